"""Runs a recipe's ``clips:`` step: one row per clip into ``<ns>.video_clips``, one per video into ``<ns>.signals_clips``.

The step reads the samples of ``<ns>.samples`` (pinned snapshot) that have no ``signals_clips``
row yet, decodes and splits each video once in one ``mapInArrow`` pass (``spark_mm.video.clips``),
and materialises the result once on the executors (clip rows are small; payloads are not kept).
Then two audited write-audit-publish commits, clips first, as the ``links:`` step does:

1. ``video_clips``: the exploded clips, plus one error row per video that could not be split;
   audited to hold exactly the rows the videos yielded, with unique, non-null ``clip_id``.
2. ``signals_clips``: one row per sample read (rows in = rows out), ``clip_count`` saying how
   many clips it has; the video's "done" mark.

A retry appends nothing: a published ``signals_clips`` commit of this run skips the step, samples
with a row are never read again, and clips already in ``video_clips`` (a crash between the two
commits) are not written twice (a left-anti join on ``clip_id``, which is deterministic:
``spark_mm/video/ids.py``). One commit per table per run, like dedup and links. A changed
splitter does not re-split videos already split (docs/video.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.error_policy import ErrorPolicy, check_not_all_errors
from spark_mm.engine.inputs import join_inputs
from spark_mm.engine.progress import StageProgress
from spark_mm.errors import MissingDependency
from spark_mm.lake.audit import AuditSpec, audit, child_rows_check
from spark_mm.lake.lineage import Lineage
from spark_mm.video.clips import READS, SIGNALS_SCHEMA, VIDEO_CLIP_COLUMNS, VIDEO_CLIPS_SCHEMA, VIDEOS_SCHEMA
from spark_mm.video.step import ClipsStep

STAGE = "clips"
CLIPS_TABLE = "video_clips"
SIGNALS_TABLE = "signals_clips"
_INSTALL = "the clips: step needs PyAV and PySceneDetect: pip install 'spark-mm[video]'"


def check_dependencies() -> None:
    """Fail on the driver, before any video is read, when PyAV or PySceneDetect is missing."""
    import importlib.util

    for module in ("av", "scenedetect", "cv2"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependency(f"{_INSTALL} ({module} is not importable)")


def clips_fn(step: ClipsStep, run_id: str, fingerprint: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function the step's ``mapInArrow`` runs on every partition (pure: ``clips_batch``)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import av

        from spark_mm.video.clips import clips_batch

        av.logging.set_level(av.logging.PANIC)  # broken files are reported per row, not on stderr
        for batch in batches:
            yield clips_batch(av, batch, step, run_id, fingerprint)

    return run


def run_clips_step(ctx: RunContext, step: ClipsStep, policy: ErrorPolicy, progress: StageProgress | None = None) -> StageResult:
    """Split every sample not yet in ``signals_clips``; publish clips, then videos."""
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    started = time.perf_counter()
    lake.ensure_table(CLIPS_TABLE, from_arrow_schema(VIDEO_CLIPS_SCHEMA))
    lake.ensure_table(SIGNALS_TABLE, from_arrow_schema(SIGNALS_SCHEMA))
    result = StageResult(STAGE, lake.table(SIGNALS_TABLE), 0, 0, 0, 0.0, None)
    done = lake.find_commit(SIGNALS_TABLE, run_id, STAGE)
    if done:
        result.rows_in = result.rows_out = done.added_records
        result.snapshot_id, result.skipped, result.note = done.snapshot_id, True, "already committed by this run"
        result.seconds = time.perf_counter() - started
        return result
    check_dependencies()
    frame, inputs = join_inputs(ctx, READS, {})
    if lake.current_snapshot_id(SIGNALS_TABLE) is not None:
        frame = frame.join(spark.table(lake.table(SIGNALS_TABLE)).select("sample_id"), "sample_id", "left_anti")
    if progress:
        progress.started(frame.count())
    fingerprint = step.fingerprint()
    # materialised once: both commits and their audits read it, and decoding must not run twice
    videos = frame.mapInArrow(clips_fn(step, run_id, fingerprint), from_arrow_schema(VIDEOS_SCHEMA)).localCheckpoint(eager=True)
    totals = videos.agg(F.count(F.lit(1)), F.sum("clip_count"), F.sum(F.size("clips"))).first()
    n_videos, n_clips, n_rows = int(totals[0]), int(totals[1] or 0), int(totals[2] or 0)
    lineage = ctx.lineage(STAGE, (step.op_id,), inputs)
    clips_note = _commit_clips(ctx, videos, lineage, n_rows)
    signals = videos.drop("clips")
    spec = AuditSpec(expected_rows=n_videos, max_error_rate=policy.max_error_rate, required=from_arrow_schema(SIGNALS_SCHEMA))
    what = f"step {STAGE!r} ({lake.table(SIGNALS_TABLE)})"

    def check(added: DataFrame) -> None:
        report = audit(added, spec, what)
        check_not_all_errors(what, report.rows, report.rows_with_errors, policy.allow_all_errors)
        result.rows_with_errors = report.rows_with_errors

    commit = lake.append(SIGNALS_TABLE, signals, lineage, audit=check)
    result.rows_in, result.rows_out = n_videos, commit.added_records if commit else 0
    result.snapshot_id = commit.snapshot_id if commit else None
    errors = n_rows - n_clips
    result.note = f"{n_clips} clips ({step.splitter.type}) into {lake.table(CLIPS_TABLE)}" + (f", {errors} error rows" if errors else "") + (f"; {clips_note}" if clips_note else "")
    result.seconds = time.perf_counter() - started
    return result


def _commit_clips(ctx: RunContext, videos: DataFrame, lineage: Lineage, n_rows: int) -> str:
    """Publish the videos' ``n_rows`` clip and error rows to ``video_clips`` unless this run already did; returns a note."""
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    if lake.find_commit(CLIPS_TABLE, run_id, STAGE):
        return "clips already committed by this run"
    clips = videos.select("sample_id", F.explode("clips").alias("c")).select(
        *[F.col(f"c.{c}").alias(c) if c not in ("sample_id", "run_id") else F.col(c) for c in VIDEO_CLIP_COLUMNS if c != "run_id"],
        F.lit(run_id).alias("run_id"),
    )
    note = ""
    expected = n_rows
    if lake.current_snapshot_id(CLIPS_TABLE) is not None:
        held = spark.table(lake.table(CLIPS_TABLE)).select("clip_id")
        clips = clips.join(held, "clip_id", "left_anti")
        expected = clips.count()
        if expected != n_rows:
            note = f"{n_rows - expected} clips already in {lake.table(CLIPS_TABLE)} (an interrupted earlier run) not written again"
    clips = clips.select(*VIDEO_CLIP_COLUMNS)
    what = f"step {STAGE!r} ({lake.table(CLIPS_TABLE)})"

    if expected:
        lake.append(CLIPS_TABLE, clips, lineage, audit=child_rows_check(what, expected, "clip_id", "clip rows"))
    return note
