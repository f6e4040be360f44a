"""``vid_duration``: keep videos whose duration lies in ``[min_duration, max_duration]`` seconds.

Data-Juicer's ``video_duration_filter``: the duration is the video stream's ``duration ×
time_base`` rounded to whole seconds with Python's ``round`` (halves to even: 2.5 → 2, 3.5 → 4),
and both bounds are inclusive (its ``get_keep_boolean`` with closed intervals), defaults 0 and
``sys.maxsize``. ``rounding: exact`` compares the unrounded seconds instead. The duration comes
from ``vid_meta`` (``vid_duration_s``), so a recipe runs that first; docs/video.md lists where the
two differ from Data-Juicer.
"""

from __future__ import annotations

import enum
import sys
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from spark_mm.ops.base import MISSING_INPUT, Filter, FilterDecision, OpParams
from spark_mm.ops.registry import register
from spark_mm.ops.thresholds import Bound, Threshold, column


class VidDurationReason(str, enum.Enum):
    """Why ``vid_duration`` dropped a video."""

    MISSING_INPUT = MISSING_INPUT  # no duration: vid_meta could not read the video (or it is not one)
    TOO_SHORT = "too_short"  # duration < min_duration
    TOO_LONG = "too_long"  # duration > max_duration


class VidDurationParams(OpParams):
    op: Literal["vid_duration"] = "vid_duration"
    min_duration: float = Field(0.0, ge=0.0, description="seconds, inclusive; Data-Juicer's default 0")
    max_duration: float = Field(float(sys.maxsize), ge=0.0, description="seconds, inclusive; Data-Juicer's default sys.maxsize")
    rounding: Literal["round", "exact"] = Field("round", description="round: whole seconds as Data-Juicer (Python round); exact: the stream's seconds")
    duration_column: str = Field("vid_duration_s", description="vid_meta's duration, seconds")

    def threshold_signals(self) -> dict[str, Threshold]:
        return {
            "min_duration": Threshold(column("vid_duration"), Bound.LOWER, minimum=0.0),
            "max_duration": Threshold(column("vid_duration"), Bound.UPPER, minimum=0.0),
        }


def round_half_even(values: pa.Array) -> pa.Array:
    """Python's ``round(x)`` over a float array: nearest integer, halves to the even one.

    >>> round_half_even(pa.array([0.5, 1.5, 2.5, 2.4999, 2.6, None])).to_pylist()
    [0.0, 2.0, 2.0, 2.0, 3.0, None]
    >>> [round(x) for x in (0.5, 1.5, 2.5, 2.4999, 2.6)]
    [0, 2, 2, 2, 3]
    """
    return pc.round(values, ndigits=0, round_mode="half_to_even")


@register
class VidDuration(Filter[VidDurationParams]):
    """Keep/drop videos by duration; adds ``vid_duration`` (the compared seconds) and ``vid_duration_ok/_reason``.

    ``vid_duration`` is ``round(vid_duration_s)`` (whole seconds, Data-Juicer's rule) or, with
    ``rounding: exact``, ``vid_duration_s`` itself. Kept when ``min_duration <= vid_duration <=
    max_duration``; otherwise ``too_short`` / ``too_long``. A row without a duration gets
    ``missing_input`` from the Filter base class (vid_meta holds the error, if any).
    """

    name = "vid_duration"
    version = "1"
    Params = VidDurationParams
    Reason = VidDurationReason

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.duration_column,)

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([("vid_duration", pa.float64())])

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        p = self.params
        seconds = pc.cast(batch.column(p.duration_column), pa.float64())
        duration = round_half_even(seconds) if p.rounding == "round" else seconds
        none = pa.scalar(None, pa.string())
        reason = pc.if_else(pc.fill_null(pc.greater(duration, p.max_duration), False), pa.scalar(VidDurationReason.TOO_LONG.value), none)
        reason = pc.if_else(pc.fill_null(pc.less(duration, p.min_duration), False), pa.scalar(VidDurationReason.TOO_SHORT.value), reason)
        return FilterDecision(ok=reason.is_null(), reason=reason, signals=pa.RecordBatch.from_arrays([duration], schema=self.signal_schema))
