"""What a dedup method's rows are: samples, or the rows of a child table keyed by their own id.

Most methods dedup samples: their columns come from ``<ns>.samples`` and the stages' signal
tables, joined on ``sample_id`` (``spark_mm.engine.inputs``). A method over a child table (clip
dedup over ``<ns>.video_clips``) names that table, its id column and the recipe section that
writes it in its registry entry (``spark_mm.dedup.methods``); the dedup stage reads the table,
dedups its rows by that id (``dedup_keys.sample_id`` holds it for the method's key type) and
writes ``<id column>`` plus the parent ``sample_id`` into ``<ns>.dedup_<name>``. Recipe validation
checks the step's columns against the table's. Nothing here imports pyspark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DedupRows:
    """Where a method's rows come from.

    Attributes:
        table: the table in the namespace; None for samples (joined with the signal tables).
        id_column: the rows' unique id (``sample_id`` for samples).
        section: the recipe section that writes ``table`` (recipe validation requires it).
        columns: the table's columns, for recipe validation (a function: read on use, so this
            module imports no table layout).
    """

    table: str | None = None
    id_column: str = "sample_id"
    section: str = ""
    columns: Callable[[], tuple[str, ...]] = tuple


def _video_clip_columns() -> tuple[str, ...]:
    from spark_mm.video.clips import VIDEO_CLIP_COLUMNS

    return VIDEO_CLIP_COLUMNS


SAMPLES = DedupRows()
VIDEO_CLIPS = DedupRows(table="video_clips", id_column="clip_id", section="clips", columns=_video_clip_columns)
