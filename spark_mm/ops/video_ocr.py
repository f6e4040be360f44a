"""``vid_ocr``: the share of each sampled frame covered by detected text (Data-Juicer's OCR area ratio).

Data-Juicer's ``video_ocr_area_ratio_filter``: sample ``frame_sample_num`` frames uniformly (3),
detect text boxes on each (EasyOCR's detector there; RapidOCR's PP-OCR detection model here, the
ONNX file that ships inside the ``rapidocr`` wheel, so nothing is downloaded), sum the box areas
(quadrilaterals as two triangles; overlaps are not merged) over the frame's area, average the
frames, and keep ``min_area_ratio <= ratio <= max_area_ratio`` (0 and 1: keep everything).
docs/video.md lists the deviations.
"""

from __future__ import annotations

import enum
import logging
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.errors import MissingDependency
from spark_mm.ops.base import MISSING_INPUT, Filter, FilterDecision
from spark_mm.ops.video_base import VideoInputParams, VideoInputs, require_modules, row_windows
from spark_mm.ops.registry import register
from spark_mm.ops.thresholds import Bound, Threshold, column
from spark_mm.video.sampled_frames import FrameProblem, sample_frames

_INSTALL = "vid_ocr needs PyAV and RapidOCR: pip install 'spark-mm[video]' (or pip install av rapidocr onnxruntime)"


class VidOcrReason(str, enum.Enum):
    """Why ``vid_ocr`` dropped a video."""

    MISSING_INPUT = MISSING_INPUT  # neither a payload nor a payload reference
    DECODE_ERROR = "decode_error"  # no decodable frame (not a video, or broken)
    UNREADABLE_REFERENCE = "unreadable_reference"  # the referenced file is gone or shorter than the reference
    TOO_LITTLE_TEXT = "too_little_text"  # ratio < min_area_ratio
    TOO_MUCH_TEXT = "too_much_text"  # ratio > max_area_ratio


class VidOcrParams(VideoInputParams):
    op: Literal["vid_ocr"] = "vid_ocr"
    frame_sample_num: int = Field(3, ge=1, description="frames sampled uniformly; Data-Juicer's default 3")
    min_area_ratio: float = Field(0.0, ge=0.0, le=1.0, description="inclusive; Data-Juicer's default 0")
    max_area_ratio: float = Field(1.0, ge=0.0, le=1.0, description="inclusive; Data-Juicer's default 1")
    reduce: Literal["avg", "max", "min"] = Field("avg", description="over the sampled frames; Data-Juicer: mean")
    det_box_thresh: float = Field(0.5, gt=0.0, lt=1.0, description="RapidOCR's Det.box_thresh (its default)")
    det_max_side_px: int = Field(2560, ge=32, description="frames whose longer side exceeds this are shrunk for detection, never enlarged (EasyOCR's canvas_size 2560)")

    def threshold_signals(self) -> dict[str, Threshold]:
        return {
            "min_area_ratio": Threshold(column("vid_ocr_area_ratio"), Bound.LOWER, minimum=0.0, maximum=1.0),
            "max_area_ratio": Threshold(column("vid_ocr_area_ratio"), Bound.UPPER, minimum=0.0, maximum=1.0),
        }


def box_area(points: np.ndarray) -> float:
    """Area of one detected quadrilateral (4 × (x, y)), as Data-Juicer sums it: two triangles.

    >>> box_area(np.array([[0, 0], [10, 0], [10, 4], [0, 4]], dtype=float))
    40.0
    """
    p = np.asarray(points, dtype=np.float64)

    def tri(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
        return 0.5 * abs(a[0] * b[1] + b[0] * c[1] + c[0] * a[1] - b[0] * a[1] - c[0] * b[1] - a[0] * c[1])

    return float(tri(p[0], p[1], p[2]) + tri(p[2], p[3], p[0]))


def area_ratio(boxes: Any, height: int, width: int) -> float:
    """Summed box area over the frame area (0 without boxes; may exceed 1 when boxes overlap)."""
    if boxes is None or len(boxes) == 0:
        return 0.0
    return sum(box_area(b) for b in boxes) / float(height * width)


_REDUCE = {"avg": np.mean, "max": np.max, "min": np.min}


@register
class VidOcr(VideoInputs, Filter[VidOcrParams]):
    """Text-area ratio of a video, or of its clip window in a stage ``over: clips`` (Data-Juicer's
    ``video_ocr_area_ratio_filter``); adds ``vid_ocr_area_ratio``.

    Signal: ``vid_ocr_area_ratio`` (float, unitless share of the frame area covered by detected
    text boxes, reduced over the sampled frames by ``reduce``, mean by default). Kept when
    ``min_area_ratio <= ratio <= max_area_ratio``; otherwise ``too_little_text`` /
    ``too_much_text``. A row without a video is ``missing_input``; one whose frames do not decode is
    ``decode_error`` (with an error entry), a referenced file that is gone ``unreadable_reference``.
    """

    name = "vid_ocr"
    version = "1"
    Params = VidOcrParams
    Reason = VidOcrReason

    def __init__(self, params: VidOcrParams) -> None:
        super().__init__(params)
        require_modules(("av", "rapidocr", "onnxruntime"), _INSTALL)  # fail at plan time, on the driver
        self._engine: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_engine"] = None  # the ONNX session loads on each worker
        return state

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([("vid_ocr_area_ratio", pa.float64())])

    @property
    def engine(self) -> Any:
        """RapidOCR text detector only (no direction classifier, no recognition), loaded once per worker."""
        if self._engine is None:
            try:
                from rapidocr import RapidOCR
            except ImportError as err:
                raise MissingDependency(_INSTALL) from err
            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            self._engine = RapidOCR(params={
                "Global.use_cls": False, "Global.use_rec": False, "Det.box_thresh": self.params.det_box_thresh,
                "Det.limit_type": "max", "Det.limit_side_len": self.params.det_max_side_px,
            })
            logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # "text detection result is empty" per blank frame
        return self._engine

    def frame_ratio(self, image: np.ndarray) -> float:
        """Text-area ratio of one RGB frame."""
        out = self.engine(np.ascontiguousarray(image[:, :, ::-1]), use_det=True, use_cls=False, use_rec=False)  # RapidOCR takes BGR
        return area_ratio(getattr(out, "boxes", None), image.shape[0], image.shape[1])

    def _column(self, batch: pa.RecordBatch, name: str) -> list[Any]:
        return batch.column(name).to_pylist() if name in batch.schema.names else [None] * batch.num_rows

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        p = self.params
        ratios: list[float | None] = []
        reasons: list[str | None] = []
        errors: list[str | None] = []
        columns = (self._column(batch, p.payload_column), self._column(batch, p.uri_column), self._column(batch, p.meta_column), row_windows(batch))
        for payload, uri, meta, window in zip(*columns):
            frames = sample_frames(payload, uri, dict(meta) if meta else None, p.frame_sample_num, window)
            if frames.problem is not None:
                ratios.append(None)
                reasons.append(frames.problem.value)
                errors.append(None if frames.problem is FrameProblem.MISSING_INPUT else frames.message)
                continue
            ratio = float(_REDUCE[p.reduce]([self.frame_ratio(f) for f in frames.images]))
            ratios.append(ratio)
            reasons.append(
                VidOcrReason.TOO_LITTLE_TEXT.value if ratio < p.min_area_ratio
                else VidOcrReason.TOO_MUCH_TEXT.value if ratio > p.max_area_ratio else None
            )  # fmt: skip
            errors.append(None)
        reason = pa.array(reasons, pa.string())
        err = pa.array(errors, pa.string())
        return FilterDecision(
            ok=reason.is_null(),
            reason=reason,
            signals=pa.RecordBatch.from_arrays([pa.array(ratios, pa.float64())], schema=self.signal_schema),
            errors=err if err.null_count < len(err) else None,
        )
