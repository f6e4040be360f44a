"""CLIP image embeddings, caption embeddings and the image-text CLIP score (OpenCLIP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.models import clip
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.images import map_images
from spark_mm.models.runtime import require, torch_dtype
from spark_mm.models.weights import WeightsLocation, WeightsStatus, resolve
from spark_mm.ops.model_base import ModelOperator, ModelParams, embedding_type
from spark_mm.ops.registry import register


class ImgClipParams(ModelParams):
    """Recipe step ``op: img_clip``.

    Recipe examples: LAION-5B kept pairs with ``clip_score >= 0.28`` under ViT-B-32/openai;
    DataComp's CLIP-score filter keeps the top 30% by ViT-L-14/openai score (threshold set in the
    curation query, since signals never drop rows).
    """

    op: Literal["img_clip"] = "img_clip"
    model: str = "ViT-L-14"
    pretrained: str = "openai"
    image_column: str = "image"
    caption_column: str | None = Field("caption", description="null: image embeddings only, no text columns")
    emb_dtype: Literal["float16", "float32"] = "float16"
    image_emb_column: str = "img_clip_emb"
    text_emb_column: str | None = "txt_clip_emb"
    score_column: str | None = "clip_score"
    batch_size: int = Field(128, ge=1)


@dataclass
class _ClipInputs:
    images: Any  # tensor (k, 3, H, W) of the decodable rows
    image_rows: np.ndarray  # row indices of those images in the chunk
    tokens: Any  # tensor (j, ctx) or None
    text_rows: np.ndarray
    n: int


@register
class ImgClip(ModelOperator[ImgClipParams]):
    """CLIP embeddings (OpenCLIP; Radford et al. 2021, Cherti et al. 2023) and CLIP score.

    Signals: ``img_clip_emb`` (L2-normalised image embedding, fixed-size float list of the model's
    ``embed_dim``), ``txt_clip_emb`` (L2-normalised embedding of ``caption``) and ``clip_score``
    (cosine of the two, in [-1, 1]; LAION-5B's ViT-B/32 threshold is 0.28). Column names are
    configurable so two CLIP models can run in one stage. A row whose image does not decode has
    null image columns and an error; a null caption gives null text columns and no error.
    """

    name = "img_clip"
    version = "1"
    Params = ImgClipParams

    def __init__(self, params: ImgClipParams) -> None:
        super().__init__(params)
        self._dim: int | None = None

    @property
    def _with_text(self) -> bool:
        p = self.params
        return p.caption_column is not None and (p.text_emb_column is not None or p.score_column is not None)

    @property
    def reads(self) -> tuple[str, ...]:
        p = self.params
        return (p.image_column,) + ((p.caption_column,) if p.caption_column else ())

    @property
    def embed_dim(self) -> int:
        if self._dim is None:
            self._dim = clip.embed_dim(self.params.model, self.params.weights.path)
        return self._dim

    @property
    def output_schema(self) -> pa.Schema:
        p = self.params
        emb = embedding_type(self.embed_dim, p.emb_dtype)
        fields = [pa.field(p.image_emb_column, emb)]
        if self._with_text and p.text_emb_column:
            fields.append(pa.field(p.text_emb_column, emb))
        if self._with_text and p.score_column:
            fields.append(pa.field(p.score_column, pa.float32()))
        return pa.schema(fields)

    def model_id(self) -> str:
        return clip.clip_model_id(self.params.model, self.params.pretrained)

    def resolve_weights(self) -> WeightsStatus:
        p = self.params
        hub = clip.hub_files(p.model, p.pretrained)
        return resolve(self.model_id(), p.weights, hub, clip.how_to_provide(p.model, p.pretrained, hub))

    def load(self, location: WeightsLocation, device: str, dtype: str) -> clip.ClipBundle:
        return clip.load_clip(self.params.model, self.params.pretrained, location, device, dtype)

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        torch = require("torch")
        bundle: clip.ClipBundle = self._model
        pixels, errors = map_images(chunk.column(self.params.image_column), bundle.preprocess, self.decode_pool)
        rows = np.array([i for i, t in enumerate(pixels) if t is not None], dtype=np.int64)
        images = torch.stack([pixels[i] for i in rows]) if len(rows) else None
        tokens, text_rows = None, np.zeros(0, dtype=np.int64)
        if self._with_text:
            captions = chunk.column(self.params.caption_column).to_pylist()
            text_rows = np.array([i for i, c in enumerate(captions) if c is not None], dtype=np.int64)
            if len(text_rows):
                tokens = bundle.tokenizer([captions[i] for i in text_rows])
        if images is not None and bundle.device.startswith("cuda"):
            images = images.pin_memory()
        return Prepared(_ClipInputs(images, rows, tokens, text_rows, chunk.num_rows), errors)

    def infer(self, model: clip.ClipBundle, inputs: _ClipInputs) -> dict[str, Column]:
        torch = require("torch")
        p, n, dim = self.params, inputs.n, self.embed_dim
        img = np.zeros((n, dim), dtype=np.float32)
        img_ok = np.zeros(n, dtype=bool)
        txt = np.zeros((n, dim), dtype=np.float32)
        txt_ok = np.zeros(n, dtype=bool)
        with torch.inference_mode():
            if inputs.images is not None:
                x = inputs.images.to(model.device, dtype=torch_dtype(model.dtype), non_blocking=True)
                img[inputs.image_rows] = _l2(model.model.encode_image(x).float()).cpu().numpy()
                img_ok[inputs.image_rows] = True
            if inputs.tokens is not None:
                t = inputs.tokens.to(model.device, non_blocking=True)
                txt[inputs.text_rows] = _l2(model.model.encode_text(t).float()).cpu().numpy()
                txt_ok[inputs.text_rows] = True
        out = {p.image_emb_column: Column(img, img_ok)}
        if self._with_text and p.text_emb_column:
            out[p.text_emb_column] = Column(txt, txt_ok)
        if self._with_text and p.score_column:
            out[p.score_column] = Column(np.einsum("nd,nd->n", img, txt), img_ok & txt_ok)
        return out


def _l2(x: Any) -> Any:
    """Row-wise L2 normalisation of a float tensor (zero rows stay zero)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
