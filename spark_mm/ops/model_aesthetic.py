"""LAION improved aesthetic predictor v2 over CLIP ViT-L/14 image embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.models import heads
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.weights import WeightsLocation, WeightsStatus, resolve
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register

HOW_TO_PROVIDE = (
    "download the LAION improved-aesthetic-predictor weights (sac+logos+ava1-l14-linearMSE.pth, a plain "
    "state dict) and set `weights.path` to that file; it is read with torch.load(weights_only=True)."
)


class ImgAestheticParams(ModelParams):
    """Recipe step ``op: img_aesthetic``; needs ``img_clip`` with ``model: ViT-L-14`` earlier in the stage."""

    op: Literal["img_aesthetic"] = "img_aesthetic"
    embedding_column: str = "img_clip_emb"
    score_column: str = "img_aesthetic_score"
    batch_size: int = Field(1024, ge=1)


@dataclass
class _Emb:
    x: np.ndarray
    valid: np.ndarray


@register
class ImgAesthetic(ModelOperator[ImgAestheticParams]):
    """Aesthetic score (LAION-5B's improved aesthetic predictor v2, Schuhmann 2022).

    Signal: ``img_aesthetic_score``, a float roughly on a 1-10 scale (LAION-Aesthetics kept >= 5,
    >= 6, >= 6.5). Input: the L2-normalised CLIP ViT-L/14 image embedding from ``img_clip`` (768
    dims; re-normalised here in float32). A null embedding gives a null score; a wrong width gives
    a null score and an error.
    """

    name = "img_aesthetic"
    version = "1"
    Params = ImgAestheticParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.embedding_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(self.params.score_column, pa.float32())])

    def model_id(self) -> str:
        return "laion:improved-aesthetic-predictor-v2"

    def resolve_weights(self) -> WeightsStatus:
        return resolve(self.model_id(), self.params.weights, (), HOW_TO_PROVIDE)

    def load(self, location: WeightsLocation, device: str, dtype: str) -> heads.TorchHead:
        return heads.load_aesthetic(location.path, device, dtype)

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        x, valid, errors = heads.embeddings_to_numpy(chunk.column(self.params.embedding_column), heads.AESTHETIC_DIMS[0])
        return Prepared(_Emb(heads.l2_normalize(x), valid), errors)

    def infer(self, model: heads.TorchHead, inputs: _Emb) -> dict[str, Column]:
        score = np.zeros(len(inputs.valid), dtype=np.float32)
        if inputs.valid.any():
            score[inputs.valid] = model(inputs.x[inputs.valid])[:, 0]
        return {self.params.score_column: Column(score, inputs.valid)}
