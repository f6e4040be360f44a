"""The one place a stage's input is assembled: samples at a pinned snapshot joined with the
earlier signal tables that hold the columns it reads, and the lineage ``input`` string naming
every table ``@snapshot`` read.

A stage ``over: clips`` reads the clip rows of ``video_clips`` instead (error rows left out), each
with its window as ``clip_start_s`` / ``clip_end_s`` and its parent's columns joined on
``sample_id`` (the video: inline payload, or the reference ``source_uri`` + ``record_meta``);
columns of earlier clip stages join on ``clip_id``. :data:`STAGE_INPUTS` picks by ``over``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_mm.engine.context import RunContext
from spark_mm.lake.schema import SAMPLES_COLUMNS
from spark_mm.ops.video_base import WINDOW_COLUMNS

SAMPLES = "samples"
VIDEO_CLIPS = "video_clips"  # written by the clips: step (engine/clips_stage.py)


def join_inputs(ctx: RunContext, columns: Sequence[str], produced: dict[str, str]) -> tuple[DataFrame, str]:
    """``sample_id`` plus ``columns`` for every sample, and the lineage input string.

    Args:
        ctx: the run.
        columns: columns to read, from ``samples`` or from the signal table ``produced`` names.
        produced: column → signal table (without namespace) that holds it.

    Returns:
        (frame, ``lake.ns.samples@<snap>,lake.ns.signals_x@<snap>,...``).
    """
    lake, spark = ctx.lake, ctx.spark
    snapshot = lake.current_snapshot_id(SAMPLES)
    sample_cols = [c for c in columns if c in SAMPLES_COLUMNS and c != "sample_id"]
    frame = spark.read.option("versionAsOf", snapshot).table(lake.table(SAMPLES)).select("sample_id", *sample_cols)
    inputs = [f"{lake.table(SAMPLES)}@{snapshot}"]
    by_table: dict[str, list[str]] = {}
    for col in columns:
        if col not in SAMPLES_COLUMNS:
            by_table.setdefault(produced[col], []).append(col)
    for name, cols in by_table.items():
        snap = lake.current_snapshot_id(name)
        prev = spark.read.option("versionAsOf", snap).table(lake.table(name)).select("sample_id", *cols)
        frame = frame.join(prev, "sample_id", "left")
        inputs.append(f"{lake.table(name)}@{snap}")
    return frame, ",".join(inputs)


def join_clip_inputs(ctx: RunContext, columns: Sequence[str], produced: dict[str, str], clip_tables: Collection[str]) -> tuple[DataFrame, str]:
    """``clip_id``, ``sample_id``, the window columns and ``columns`` for every clip of ``video_clips``.

    Args:
        columns: columns to read: from ``samples`` and per-sample signal tables (joined on the
            parent ``sample_id``), or from the clip stages' tables in ``clip_tables`` (on ``clip_id``).
        produced: column → signal table (without namespace) that holds it.
        clip_tables: the signal tables of clip stages.

    Returns:
        (frame, ``lake.ns.video_clips@<snap>,lake.ns.samples@<snap>,...``).
    """
    lake, spark = ctx.lake, ctx.spark
    snapshot = lake.current_snapshot_id(VIDEO_CLIPS)
    reader = spark.read.option("versionAsOf", snapshot) if snapshot is not None else spark.read
    start, end = WINDOW_COLUMNS
    clips = (
        reader.table(lake.table(VIDEO_CLIPS))
        .where(F.col("error").isNull() & F.col("start_s").isNotNull() & F.col("end_s").isNotNull())
        .select("clip_id", "sample_id", F.col("start_s").alias(start), F.col("end_s").alias(end))
    )
    per_clip = [c for c in columns if c not in SAMPLES_COLUMNS and produced[c] in clip_tables]
    parents, parent_inputs = join_inputs(ctx, [c for c in columns if c not in per_clip], produced)
    frame = clips.join(parents, "sample_id", "left")  # a clip is scored even if its parent's row is gone: missing_input
    inputs = [f"{lake.table(VIDEO_CLIPS)}@{snapshot}", parent_inputs]
    by_table: dict[str, list[str]] = {}
    for col in per_clip:
        by_table.setdefault(produced[col], []).append(col)
    for name, cols in by_table.items():
        snap = lake.current_snapshot_id(name)
        frame = frame.join(spark.read.option("versionAsOf", snap).table(lake.table(name)).select("clip_id", *cols), "clip_id", "left")
        inputs.append(f"{lake.table(name)}@{snap}")
    return frame.select("clip_id", "sample_id", *[c for c in frame.columns if c not in ("clip_id", "sample_id")]), ",".join(inputs)


def _samples_inputs(ctx: RunContext, columns: Sequence[str], produced: dict[str, str], clip_tables: Collection[str]) -> tuple[DataFrame, str]:
    return join_inputs(ctx, columns, produced)


# over → the input of a stage: one row per sample, or one per clip
STAGE_INPUTS: dict[str, Callable[[RunContext, Sequence[str], dict[str, str], Collection[str]], tuple[DataFrame, str]]] = {
    "samples": _samples_inputs,
    "clips": join_clip_inputs,
}
