"""``vid_aesthetic``: LAION's aesthetic predictor v2 over CLIP ViT-L/14 embeddings of sampled video frames.

Data-Juicer's ``video_aesthetics_filter`` with its recipe's scorer
(``shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE``, i.e. the LAION improved aesthetic
predictor v2 on CLIP ViT-L/14): ``frame_num`` frames sampled uniformly (3), one score per frame, reduced
by ``reduce`` (``avg``). The score is stored on the predictor's own scale (roughly 1-10); Data-Juicer
divides it by 10 before comparing, so its ``min_score: 0.4`` is ``vid_aesthetic_score >= 4`` here
(docs/video.md). The CLIP and head loaders are the image stage's (``img_clip``, ``img_aesthetic``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.models import clip, heads
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.runtime import require, torch_dtype
from spark_mm.models.weights import WeightsLocation, WeightsParams, WeightsStatus, resolve
from spark_mm.ops.model_aesthetic import HOW_TO_PROVIDE as HEAD_HOW_TO_PROVIDE
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register
from spark_mm.ops.video_base import row_windows
from spark_mm.video.sampled_frames import FrameProblem, sample_frames

_REDUCE = {"avg": np.mean, "max": np.max, "min": np.min}


class VidAestheticParams(ModelParams):
    """Recipe step ``op: vid_aesthetic``.

    ``weights`` locates CLIP (as ``img_clip``'s), ``head_weights.path`` the aesthetic MLP (as
    ``img_aesthetic``'s); ``weights.on_missing`` applies when either is absent.
    """

    op: Literal["vid_aesthetic"] = "vid_aesthetic"
    model: str = "ViT-L-14"
    pretrained: str = "openai"
    head_weights: WeightsParams = WeightsParams()
    frame_num: int = Field(3, ge=1, description="frames sampled uniformly; Data-Juicer's default 3")
    reduce: Literal["avg", "max", "min"] = Field("avg", description="over the frames; Data-Juicer's default avg")
    payload_column: str = "payload"
    uri_column: str = "source_uri"
    meta_column: str = "record_meta"
    score_column: str = "vid_aesthetic_score"
    batch_size: int = Field(32, ge=1, description="videos per model call (each up to frame_num frames)")


@dataclass
class _Loaded:
    clip: clip.ClipBundle
    head: heads.TorchHead


@dataclass
class _Frames:
    pixels: Any  # tensor (k, 3, H, W): every sampled frame of the chunk's decodable videos
    owner: np.ndarray  # row index of each frame
    n: int


@register
class VidAesthetic(ModelOperator[VidAestheticParams]):
    """Aesthetic score of a video (of its clip window in a stage ``over: clips``): LAION improved
    aesthetic predictor v2 per sampled frame, reduced.

    Signal: ``vid_aesthetic_score`` (float, the predictor's roughly 1-10 scale; Data-Juicer's
    recipe thresholds divide it by 10). Per frame: CLIP ViT-L/14 image embedding (the model's
    preprocessing of the RGB frame), L2-normalised, through the MLP head; then ``reduce`` over the
    frames. A row without a video gets a null score; a video that does not decode a null score and
    an error.
    """

    name = "vid_aesthetic"
    version = "1"
    Params = VidAestheticParams

    def __init__(self, params: VidAestheticParams) -> None:
        super().__init__(params)
        self._head_location: WeightsLocation | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        p = self.params
        return (p.payload_column, p.uri_column, p.meta_column)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(self.params.score_column, pa.float32())])

    def model_id(self) -> str:
        return f"{clip.clip_model_id(self.params.model, self.params.pretrained)}+laion:improved-aesthetic-predictor-v2"

    def resolve_weights(self) -> WeightsStatus:
        p = self.params
        hub = clip.hub_files(p.model, p.pretrained)
        clip_status = resolve(self.model_id(), p.weights, hub, clip.how_to_provide(p.model, p.pretrained, hub))
        head_params = p.head_weights.model_copy(update={"on_missing": p.weights.on_missing})
        head_status = resolve(self.model_id(), head_params, (), HEAD_HOW_TO_PROVIDE)
        looked = tuple(f"CLIP: {x}" for x in clip_status.looked_at) + tuple(f"aesthetic head: {x}" for x in head_status.looked_at)
        advice = f"CLIP: {clip_status.how_to_provide} Aesthetic head (`head_weights.path`): {HEAD_HOW_TO_PROVIDE}"
        c, h = clip_status.location, head_status.location
        if c is None or h is None:
            return WeightsStatus(self.model_id(), None, looked, advice, clip_status.on_missing)
        self._head_location = h
        digest = hashlib.sha256(f"{c.digest}+{h.digest}".encode()).hexdigest()
        return WeightsStatus(self.model_id(), WeightsLocation(c.path, c.source, digest), looked, advice, clip_status.on_missing)

    def load(self, location: WeightsLocation, device: str, dtype: str) -> _Loaded:
        if self._head_location is None:  # not resolved in this process yet
            self.resolve_weights()
        assert self._head_location is not None
        bundle = clip.load_clip(self.params.model, self.params.pretrained, location, device, dtype)
        return _Loaded(bundle, heads.load_aesthetic(self._head_location.path, device, dtype))

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        torch = require("torch")
        from PIL import Image

        p = self.params
        loaded: _Loaded = self._model

        def col(name: str) -> list[Any]:
            return chunk.column(name).to_pylist() if name in chunk.schema.names else [None] * chunk.num_rows

        rows = list(zip(col(p.payload_column), col(p.uri_column), col(p.meta_column), row_windows(chunk)))

        def one(row: tuple[Any, Any, Any, Any]) -> tuple[list[Any], str | None]:
            frames = sample_frames(row[0], row[1], dict(row[2]) if row[2] else None, p.frame_num, row[3])
            if frames.problem is not None:
                return [], None if frames.problem is FrameProblem.MISSING_INPUT else f"{frames.problem.value}: {frames.message}"
            return [loaded.clip.preprocess(Image.fromarray(f)) for f in frames.images], None

        results = list(self.decode_pool.map(one, rows))
        owner = np.array([i for i, (px, _) in enumerate(results) for _ in px], dtype=np.int64)
        tensors = [t for px, _ in results for t in px]
        pixels = torch.stack(tensors) if tensors else None
        return Prepared(_Frames(pixels, owner, chunk.num_rows), [e for _, e in results])

    def infer(self, model: _Loaded, inputs: _Frames) -> dict[str, Column]:
        torch = require("torch")
        score = np.zeros(inputs.n, dtype=np.float32)
        valid = np.zeros(inputs.n, dtype=bool)
        if inputs.pixels is not None:
            with torch.inference_mode():
                x = inputs.pixels.to(model.clip.device, dtype=torch_dtype(model.clip.dtype))
                emb = model.clip.model.encode_image(x).float().cpu().numpy()
            per_frame = model.head(heads.l2_normalize(emb))[:, 0]
            reduce = _REDUCE[self.params.reduce]
            for row in np.unique(inputs.owner):
                score[row] = reduce(per_frame[inputs.owner == row])
                valid[row] = True
        return {self.params.score_column: Column(score, valid)}
