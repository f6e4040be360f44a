"""AIGC (AI-generated image) detector: a trained head over SigLIP 2 image embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.errors import RecipeError
from spark_mm.models import heads
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.weights import WeightsLocation, WeightsStatus, resolve
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register

HOW_TO_PROVIDE = (
    "train a head on your own labelled SigLIP 2 embeddings with spark_mm.models.aigc_train.train "
    "(or `spark-mm train-aigc`) and set `weights.path` to the .safetensors file it writes."
)


class ImgAigcParams(ModelParams):
    """Recipe step ``op: img_aigc``; needs ``img_siglip2`` earlier in the stage.

    Attributes:
        embed_dim: width of the SigLIP 2 embedding the head was trained on (1152 for so400m).
    """

    op: Literal["img_aigc"] = "img_aigc"
    embedding_column: str = "img_siglip2_emb"
    embed_dim: int = Field(1152, ge=1)
    score_column: str = "img_aigc_score"
    batch_size: int = Field(1024, ge=1)


@dataclass
class _Emb:
    x: np.ndarray
    valid: np.ndarray


@register
class ImgAigc(ModelOperator[ImgAigcParams]):
    """Probability that an image is AI-generated (Z-Image-style AIGC filtering).

    Signal: ``img_aigc_score`` in [0, 1], the sigmoid of a head trained by
    ``spark_mm.models.aigc_train.train`` over L2-normalised SigLIP 2 embeddings. A null embedding
    gives a null score; an embedding of the wrong width gives a null score and an error.
    """

    name = "img_aigc"
    version = "1"
    Params = ImgAigcParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.embedding_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(self.params.score_column, pa.float32())])

    def model_id(self) -> str:
        return "spark-mm:aigc-head"

    def resolve_weights(self) -> WeightsStatus:
        """Find the head file and check it fits the configured embedding width.

        Raises:
            RecipeError: the file is not an AIGC head, or was trained on another width.
        """
        status = resolve(self.model_id(), self.params.weights, (), HOW_TO_PROVIDE)
        if status.location is not None:
            try:
                in_dim = int(heads.read_aigc_metadata(status.location.path)["in_dim"])
            except Exception as exc:  # noqa: BLE001 -- any unreadable file is a config error here
                raise RecipeError(f"img_aigc weights.path {status.location.path}: {exc}") from exc
            if in_dim != self.params.embed_dim:
                raise RecipeError(
                    f"img_aigc head {status.location.path} was trained on {in_dim}-dim embeddings, "
                    f"but the step's embed_dim is {self.params.embed_dim}"
                )
        return status

    def load(self, location: WeightsLocation, device: str, dtype: str) -> heads.TorchHead:
        return heads.load_aigc(location.path, device, dtype)

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        x, valid, errors = heads.embeddings_to_numpy(chunk.column(self.params.embedding_column), self.params.embed_dim)
        return Prepared(_Emb(heads.l2_normalize(x), valid), errors)

    def infer(self, model: heads.TorchHead, inputs: _Emb) -> dict[str, Column]:
        score = np.zeros(len(inputs.valid), dtype=np.float32)
        if inputs.valid.any():
            logits = model(inputs.x[inputs.valid])[:, 0]
            score[inputs.valid] = 1.0 / (1.0 + np.exp(-logits))
        return {self.params.score_column: Column(score, inputs.valid)}
