"""``vid_motion``: Data-Juicer's ``video_motion_score_filter`` (Farneback optical flow, OpenCV).

``vid_motion_score`` is the mean dense-flow magnitude (px per sampled frame pair, or a fraction of
the frame diagonal with ``relative``) over frames sampled at ``sampling_fps``; the rule is in
``spark_mm.video.motion``. Kept when ``min_score <= vid_motion_score <= max_score`` (Data-Juicer's
defaults 0.25 and ``sys.float_info.max``). docs/video.md lists the deviations.
"""

from __future__ import annotations

import enum
import sys
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, field_validator

from spark_mm.ops.base import MISSING_INPUT, Filter, FilterDecision
from spark_mm.ops.video_base import VideoInputParams, VideoInputs, require_modules, row_windows
from spark_mm.ops.registry import register
from spark_mm.ops.thresholds import Bound, Threshold, column
from spark_mm.sources.video_bytes import PayloadRefError, open_video
from spark_mm.video.motion import MotionOptions, motion_score
from spark_mm.video.scenes import SplitError
from spark_mm.video.window import Window

_INSTALL = "vid_motion needs PyAV and OpenCV: pip install 'spark-mm[video]' (av, opencv-python-headless)"


class VidMotionReason(str, enum.Enum):
    """Why ``vid_motion`` dropped a video (or has no score)."""

    MISSING_INPUT = MISSING_INPUT  # neither a payload nor a payload reference
    UNREADABLE_REFERENCE = "unreadable_reference"  # the referenced file is gone or shorter than the reference
    NOT_VIDEO = "not_video"  # bytes FFmpeg does not read as a video container
    DECODE_ERROR = "decode_error"  # a video container that fails to open or decode
    TOO_FEW_FRAMES = "too_few_frames"  # under two decodable frames: no flow (Data-Juicer scores -1)
    TOO_LOW = "too_low"  # score < min_score
    TOO_HIGH = "too_high"  # score > max_score


class VidMotionParams(VideoInputParams):
    op: Literal["vid_motion"] = "vid_motion"
    min_score: float = Field(0.25, description="inclusive; Data-Juicer's default 0.25")
    max_score: float = Field(sys.float_info.max, description="inclusive; Data-Juicer's default sys.float_info.max")
    sampling_fps: float = Field(2.0, gt=0, description="frames per second the flow is computed at")
    size: tuple[int] | tuple[int, int] | None = Field(None, description="[short edge] or [h, w] to resize to first")
    max_size: int | None = Field(None, gt=0, description="cap on the long edge after size")
    relative: bool = Field(False, description="divide the magnitude by the frame diagonal")

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        if isinstance(v, int):
            return (v,)
        if isinstance(v, (list, tuple)) and any(not isinstance(x, int) or x <= 0 for x in v):
            raise ValueError("size: positive integers")
        return v

    def threshold_signals(self) -> dict[str, Threshold]:
        return {
            "min_score": Threshold(column("vid_motion_score"), Bound.LOWER),
            "max_score": Threshold(column("vid_motion_score"), Bound.UPPER),
        }


@register
class VidMotion(VideoInputs, Filter[VidMotionParams]):
    """Motion score of each row's video, or of its clip window in a stage ``over: clips``
    (Farneback optical flow as Data-Juicer computes it).

    Signals: ``vid_motion_score`` (mean flow magnitude, px; a fraction of the diagonal with
    ``relative``) and ``vid_motion_pairs`` (frame pairs averaged). Reasons: :class:`VidMotionReason`;
    ``unreadable_reference`` and ``decode_error`` also write an ``errors`` entry.
    """

    name = "vid_motion"
    version = "1"
    Params = VidMotionParams
    Reason = VidMotionReason

    def __init__(self, params: VidMotionParams) -> None:
        super().__init__(params)
        require_modules(("av", "cv2"), _INSTALL)
        self._av: Any = None

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([("vid_motion_score", pa.float64()), ("vid_motion_pairs", pa.int32())])

    def setup(self) -> None:
        if self._av is None:
            import av

            av.logging.set_level(av.logging.PANIC)
            self._av = av

    def measure(
        self, payload: bytes | None, uri: str | None, meta: dict[str, str] | None, window: Window | None = None
    ) -> tuple[float | None, int | None, VidMotionReason | None, str | None]:
        """(score, pairs, reason, error) of one row (of its clip ``window`` when given); never raises for bad input."""
        p = self.params
        try:
            stream = open_video(payload, uri, meta)
        except PayloadRefError as err:
            return None, None, VidMotionReason.UNREADABLE_REFERENCE, str(err)
        if stream is None:
            return None, None, VidMotionReason.MISSING_INPUT, None
        try:
            with stream:
                score, pairs = motion_score(self._av, stream, MotionOptions(p.sampling_fps, p.size, p.max_size, p.relative), window)
        except SplitError as err:
            reason = VidMotionReason(err.reason.value)
            return None, None, reason, None if reason is VidMotionReason.NOT_VIDEO else str(err)
        except OSError as err:
            return None, None, VidMotionReason.UNREADABLE_REFERENCE, f"{type(err).__name__}: {err}"
        except Exception as err:  # noqa: BLE001 - one bad file is an error row, never a failed batch
            return None, None, VidMotionReason.DECODE_ERROR, f"{type(err).__name__}: {err}"
        if score is None:
            return None, pairs, VidMotionReason.TOO_FEW_FRAMES, None
        if score < p.min_score:
            return score, pairs, VidMotionReason.TOO_LOW, None
        if score > p.max_score:
            return score, pairs, VidMotionReason.TOO_HIGH, None
        return score, pairs, None, None

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        self.setup()
        p = self.params

        def col(name: str) -> list[Any]:
            return batch.column(name).to_pylist() if name in batch.schema.names else [None] * batch.num_rows

        inputs = zip(col(p.payload_column), col(p.uri_column), col(p.meta_column), row_windows(batch))
        rows = [self.measure(pl, u, dict(m) if m else None, w) for pl, u, m, w in inputs]
        reason = pa.array([r[2].value if r[2] else None for r in rows], pa.string())
        errors = pa.array([r[3] for r in rows], pa.string())
        signals = pa.RecordBatch.from_arrays(
            [pa.array([r[0] for r in rows], pa.float64()), pa.array([r[1] for r in rows], pa.int32())], schema=self.signal_schema
        )
        return FilterDecision(ok=reason.is_null(), reason=reason, signals=signals, errors=errors if errors.null_count < len(errors) else None)
