"""SigLIP 2 image embeddings (transformers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.models import siglip
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.images import map_images
from spark_mm.models.weights import WeightsLocation, WeightsStatus, resolve
from spark_mm.ops.model_base import ModelOperator, ModelParams, embedding_type
from spark_mm.ops.registry import register


class ImgSiglip2Params(ModelParams):
    """Recipe step ``op: img_siglip2``.

    Attributes:
        model: Hugging Face repo id, used for the cache/hub lookup and as the model's identity.
        embed_dim: embedding width when neither the local config nor the known table has it.
    """

    op: Literal["img_siglip2"] = "img_siglip2"
    model: str = "google/siglip2-so400m-patch14-384"
    image_column: str = "image"
    emb_dtype: Literal["float16", "float32"] = "float16"
    emb_column: str = "img_siglip2_emb"
    embed_dim: int | None = Field(None, ge=1)
    batch_size: int = Field(64, ge=1)


@dataclass
class _SiglipInputs:
    pixels: dict[str, Any] | None  # processor output for the decodable rows
    rows: np.ndarray
    n: int


@register
class ImgSiglip2(ModelOperator[ImgSiglip2Params]):
    """SigLIP 2 image embedding (Tschannen et al. 2025), L2-normalised.

    Signal: ``img_siglip2_emb``, a fixed-size float list of the vision width (1152 for so400m).
    Also the input of the AIGC detector (``img_aigc``). A row whose image does not decode gets a
    null embedding and an error.
    """

    name = "img_siglip2"
    version = "1"
    Params = ImgSiglip2Params

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.image_column,)

    @property
    def embed_dim(self) -> int:
        p = self.params
        return siglip.embed_dim(p.model, p.weights.path, p.embed_dim)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(self.params.emb_column, embedding_type(self.embed_dim, self.params.emb_dtype))])

    def model_id(self) -> str:
        return f"transformers:{self.params.model}"

    def resolve_weights(self) -> WeightsStatus:
        p = self.params
        return resolve(self.model_id(), p.weights, siglip.hub_files(p.model), siglip.how_to_provide(p.model))

    def load(self, location: WeightsLocation, device: str, dtype: str) -> siglip.SiglipBundle:
        return siglip.load_siglip(location, device, dtype)

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        bundle: siglip.SiglipBundle = self._model
        images, errors = map_images(chunk.column(self.params.image_column), lambda im: im, self.decode_pool)
        rows = np.array([i for i, im in enumerate(images) if im is not None], dtype=np.int64)
        pixels = None
        if len(rows):
            pixels = dict(bundle.processor(images=[images[i] for i in rows], return_tensors="pt"))
        return Prepared(_SiglipInputs(pixels, rows, chunk.num_rows), errors)

    def infer(self, model: siglip.SiglipBundle, inputs: _SiglipInputs) -> dict[str, Column]:
        emb = np.zeros((inputs.n, self.embed_dim), dtype=np.float32)
        ok = np.zeros(inputs.n, dtype=bool)
        if inputs.pixels is not None:
            feats = siglip.image_features(model, inputs.pixels).float()
            feats = feats / feats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            emb[inputs.rows] = feats.cpu().numpy()
            ok[inputs.rows] = True
        return {self.params.emb_column: Column(emb, ok)}
