"""``vid_nsfw``: open-NSFW over sampled video frames, reduced per video (Data-Juicer's ``video_nsfw_filter`` shape).

Frames come from ``spark_mm.video.frames`` (``uniform(3)`` by default, or ``keyframes``); each is
scored by the same ONNX open-NSFW model and preprocessing as ``img_nsfw``; the per-video score is
the ``avg`` (Data-Juicer's default), ``max`` or ``min`` of the frame scores. ``vid_nsfw_ok`` is
``min_score <= score <= max_score`` (Data-Juicer's keep range 0.0-0.5). Data-Juicer's model is
``Falconsai/nsfw_image_detection`` (a ViT), not obtainable offline here: docs/video.md.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from PIL import Image
from pydantic import Field, field_validator

from spark_mm.errors import MissingDependency
from spark_mm.models import nsfw
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.weights import WeightsLocation, WeightsStatus
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register
from spark_mm.ops.video_base import row_windows
from spark_mm.sources.video_bytes import PayloadRefError, open_video
from spark_mm.video.frames import Sampling, sample
from spark_mm.video.scenes import ClipReason, SplitError
from spark_mm.video.window import Window


class VidNsfwParams(ModelParams):
    """Recipe step ``op: vid_nsfw``.

    Attributes:
        frames: ``uniform(n)`` or ``keyframes`` (Data-Juicer's ``frame_sampling_method``/``frame_num``).
        reduce: ``avg`` | ``max`` | ``min`` over the frame scores (Data-Juicer's ``reduce_mode``).
        min_score / max_score: the keep range, inclusive (Data-Juicer's 0.0 and 0.5).
        batch_size: videos per model call (each contributes its sampled frames).
    """

    op: Literal["vid_nsfw"] = "vid_nsfw"
    frames: str = "uniform(3)"
    reduce: Literal["avg", "max", "min"] = "avg"
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    max_score: float = Field(0.5, ge=0.0, le=1.0)
    score_column: str = "vid_nsfw_score"
    payload_column: str = "payload"
    uri_column: str = "source_uri"
    meta_column: str = "record_meta"
    batch_size: int = Field(8, ge=1)
    execution_only = ModelParams.execution_only | {"onnx_threads"}
    onnx_threads: int | None = Field(None, ge=1)

    @field_validator("frames")
    @classmethod
    def _frames(cls, v: str) -> str:
        return str(Sampling.parse(v))


@dataclass
class _Frames:
    x: np.ndarray  # (k, 224, 224, 3), all sampled frames of the chunk's readable videos
    owner: np.ndarray  # (k,) row of each frame
    n: int


_REDUCE = {"avg": np.mean, "max": np.max, "min": np.min}


@register
class VidNsfw(ModelOperator[VidNsfwParams]):
    """P(NSFW) of each video (of its clip window in a stage ``over: clips``): open-NSFW (ONNX) per
    sampled frame, reduced by ``reduce``.

    Signals: ``vid_nsfw_score`` (float32 in [0, 1]), ``vid_nsfw_frames`` (frames scored) and
    ``vid_nsfw_ok`` (score within ``[min_score, max_score]``; null without a score). A row whose
    video does not open or decode gets nulls and an error; a row without video bytes gets nulls.
    """

    name = "vid_nsfw"
    version = "1"
    Params = VidNsfwParams

    def __init__(self, params: VidNsfwParams) -> None:
        super().__init__(params)
        if importlib.util.find_spec("av") is None:  # fail at plan time, on the driver
            raise MissingDependency("vid_nsfw needs PyAV: pip install 'spark-mm[video]' (or pip install av)")
        self._sampling = Sampling.parse(params.frames)
        self._av: Any = None

    @property
    def reads(self) -> tuple[str, ...]:
        p = self.params
        return (p.payload_column, p.uri_column, p.meta_column)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(self.params.score_column, pa.float32()), pa.field("vid_nsfw_frames", pa.int32()), pa.field("vid_nsfw_ok", pa.bool_())]
        )

    def model_id(self) -> str:
        return nsfw.MODEL_ID

    def resolve_weights(self) -> WeightsStatus:
        return nsfw.resolve_weights(self.params.weights)

    def cuda_available(self) -> bool:
        return nsfw.onnx_sees_cuda()  # an ONNX model: its tasks never import torch

    def load(self, location: WeightsLocation, device: str, dtype: str) -> nsfw.OnnxNsfw:
        return nsfw.load_session(location.path, device, self.params.onnx_threads)

    def frames_of(
        self, payload: bytes | None, uri: str | None, meta: dict[str, str] | None, window: Window | None = None
    ) -> tuple[list[np.ndarray], str | None]:
        """Preprocessed frames of one row (of its clip ``window`` when given) and an error message (none for a row without video bytes)."""
        if self._av is None:
            import av

            av.logging.set_level(av.logging.PANIC)
            self._av = av
        try:
            stream = open_video(payload, uri, meta)
        except PayloadRefError as err:
            return [], f"unreadable_reference: {err}"
        if stream is None:
            return [], None
        try:
            with stream:
                got = sample(self._av, stream, self._sampling, window)
        except SplitError as err:
            return [], None if err.reason is ClipReason.NOT_VIDEO else f"{err.reason.value}: {err}"
        except Exception as err:  # noqa: BLE001 - one bad file is an error row, never a failed batch
            return [], f"decode_error: {type(err).__name__}: {err}"[:300]
        return [nsfw.preprocess(Image.fromarray(np.ascontiguousarray(f[:, :, ::-1]))) for f in got.frames], None

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        p = self.params

        def col(name: str) -> list[Any]:
            return chunk.column(name).to_pylist() if name in chunk.schema.names else [None] * chunk.num_rows

        rows = list(zip(col(p.payload_column), col(p.uri_column), col(p.meta_column), row_windows(chunk)))
        results = list(self.decode_pool.map(lambda r: self.frames_of(r[0], r[1], dict(r[2]) if r[2] else None, r[3]), rows))
        xs = [f for frames, _ in results for f in frames]
        owner = np.array([i for i, (frames, _) in enumerate(results) for _ in frames], dtype=np.int64)
        x = np.stack(xs) if xs else np.zeros((0, nsfw.CROP_PX, nsfw.CROP_PX, 3), np.float32)
        return Prepared(_Frames(x, owner, chunk.num_rows), [e for _, e in results])

    def infer(self, model: nsfw.OnnxNsfw, inputs: _Frames) -> dict[str, Column]:
        p = self.params
        score = np.zeros(inputs.n, dtype=np.float32)
        count = np.zeros(inputs.n, dtype=np.int32)
        has = np.zeros(inputs.n, dtype=bool)
        if len(inputs.owner):
            per_frame = model(inputs.x)
            reduce = _REDUCE[p.reduce]
            for row in np.unique(inputs.owner):
                s = per_frame[inputs.owner == row]
                score[row], count[row], has[row] = reduce(s), len(s), True
        ok = (score >= p.min_score) & (score <= p.max_score)
        return {p.score_column: Column(score, has), "vid_nsfw_frames": Column(count, has), "vid_nsfw_ok": Column(ok, has)}
