"""What every per-video operator shares: where a row's video is (inline payload, or a reference
through ``source_uri`` + ``record_meta``: spark_mm/sources/video_bytes.py) and a plan-time check
that its libraries are importable, so a missing PyAV fails on the driver, not in a task.

A stage declared ``over: clips`` hands its operators one row per clip, carrying the parent's video
and the clip's window in ``clip_start_s`` / ``clip_end_s`` (:data:`WINDOW_COLUMNS`); every video
operator reads its rows' windows with :func:`row_windows` and samples only inside them. A batch
without those columns (a sample stage) is whole videos."""

from __future__ import annotations

import importlib.util
from typing import Any

import pyarrow as pa

from spark_mm.errors import MissingDependency
from spark_mm.ops.base import OpParams
from spark_mm.video.window import Window

WINDOW_COLUMNS = ("clip_start_s", "clip_end_s")  # [start, end) seconds of a clip row (video_clips.start_s / end_s)


def row_windows(batch: pa.RecordBatch) -> list[Window | None]:
    """Each row's clip window, or None for a whole video (no window columns, or a null bound).

    >>> b = pa.record_batch({"clip_start_s": [0.0, None], "clip_end_s": [1.5, 2.0]})
    >>> row_windows(b)
    [Window(start_s=0.0, end_s=1.5), None]
    >>> row_windows(pa.record_batch({"x": [1]}))
    [None]
    """
    start, end = WINDOW_COLUMNS
    if start not in batch.schema.names or end not in batch.schema.names:
        return [None] * batch.num_rows
    return [None if s is None or e is None else Window(s, e) for s, e in zip(batch.column(start).to_pylist(), batch.column(end).to_pylist())]


class VideoInputParams(OpParams):
    payload_column: str = "payload"
    uri_column: str = "source_uri"
    meta_column: str = "record_meta"


def require_modules(modules: tuple[str, ...], install: str) -> None:
    """Raise :class:`MissingDependency` with ``install`` when one of ``modules`` is not importable."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingDependency(install)


class VideoInputs:
    """Mixin for operators over ``VideoInputParams``: the three columns they read. A row with
    neither payload nor reference is the operator's own ``missing_input``, so nothing is required."""

    params: Any

    @property
    def reads(self) -> tuple[str, ...]:
        p = self.params
        return (p.payload_column, p.uri_column, p.meta_column)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        return ()
