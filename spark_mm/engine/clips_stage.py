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
The shared shape of both one-to-many steps lives in ``spark_mm/engine/parent_child_step.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
from pyspark.sql import functions as F

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.error_policy import ErrorPolicy
from spark_mm.engine.inputs import VIDEO_CLIPS
from spark_mm.engine.parent_child_step import ParentChildTables, run_parent_child_step
from spark_mm.engine.progress import StageProgress
from spark_mm.errors import MissingDependency
from spark_mm.video.clips import READS, SIGNALS_SCHEMA, VIDEO_CLIP_COLUMNS, VIDEO_CLIPS_SCHEMA, VIDEOS_SCHEMA
from spark_mm.video.step import ClipsStep

STAGE = "clips"
CLIPS_TABLE = VIDEO_CLIPS
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


CLIPS = ParentChildTables(
    stage=STAGE, reads=READS, parents_schema=VIDEOS_SCHEMA, signals_table=SIGNALS_TABLE, signals_schema=SIGNALS_SCHEMA,
    child_table=CLIPS_TABLE, child_schema=VIDEO_CLIPS_SCHEMA, child_columns=tuple(VIDEO_CLIP_COLUMNS), child_field="clips",
    carried=("sample_id",), child_id="clip_id", held_key="clip_id", noun="clip rows",
)  # clip ids are deterministic (spark_mm/video/ids.py): a held clip is recognised by its id


def run_clips_step(ctx: RunContext, step: ClipsStep, policy: ErrorPolicy, progress: StageProgress | None = None) -> StageResult:
    """Split every sample not yet in ``signals_clips``; publish clips, then videos."""
    check_dependencies()
    fingerprint = step.fingerprint()
    out = run_parent_child_step(ctx, CLIPS, clips_fn(step, ctx.run_id, fingerprint), step.op_id, policy, progress, (F.sum("clip_count"),))
    if not out.result.skipped:
        n_clips = out.totals[0]
        errors = out.children - n_clips
        note = f"{n_clips} clips ({step.splitter.type}) into {ctx.lake.table(CLIPS_TABLE)}" + (f", {errors} error rows" if errors else "")
        out.result.note = note + (f"; {out.child_note}" if out.child_note else "")
    return out.result
