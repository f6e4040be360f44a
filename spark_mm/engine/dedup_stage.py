"""Runs a recipe's dedup steps: signals into ``<ns>.dedup_<name>``, keys into ``<ns>.dedup_keys``.

A step processes the samples that have no row in its table yet (a new crawl), matches them
against every earlier run through the side-channel ``dedup_keys`` index (never reprocessing old
samples), writes its signals with write-audit-publish, then adds the kept samples' keys with an
idempotent MERGE. A retried run skips what it already committed and its MERGE inserts nothing new.

A method whose rows are a child table (``clip_phash`` over ``video_clips``: its registry entry's
``rows``, ``spark_mm/dedup/rows.py``) reads that table at its current snapshot instead, with the
rows' own id in the dedup functions' ``sample_id`` slot; its ``dedup_<name>`` rows carry that id
(``clip_id``) and the parent ``sample_id``, and a row is new when its id is not in the table yet.
"""

from __future__ import annotations

import time
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_mm.dedup import DEDUP_KEYS_DDL, history_rows, merge_keys_sql, method_of
from spark_mm.dedup.rows import DedupRows
from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.inputs import join_inputs
from spark_mm.engine.progress import StageProgress
from spark_mm.lake.audit import AuditFailed
from spark_mm.lake.lineage import PREFIX

KEYS_TABLE = "dedup_keys"
READS_PROP = f"{PREFIX}dedup-reads"  # the step's columns (``step.reads``), key column first
_PARENT = "_spark_mm_parent_sample_id"  # a child row's parent sample, carried past the dedup functions


def read_rows(ctx: RunContext, rows: DedupRows, reads: tuple[str, ...], produced: dict[str, str]) -> tuple[DataFrame, str]:
    """The step's rows (``sample_id`` = the row's id, plus ``reads``) and the lineage input string.

    Samples come from :func:`join_inputs`; a child table's rows from that table at its current
    snapshot, their id as ``sample_id`` and their parent in ``_PARENT``.
    """
    if rows.table is None:
        return join_inputs(ctx, reads, produced)
    lake, spark = ctx.lake, ctx.spark
    snapshot = lake.current_snapshot_id(rows.table)
    table = spark.table(lake.table(rows.table)) if snapshot is None else spark.read.option("versionAsOf", snapshot).table(lake.table(rows.table))
    frame = table.select(F.col(rows.id_column).alias("sample_id"), F.col("sample_id").alias(_PARENT), *reads)
    return frame, f"{lake.table(rows.table)}@{snapshot}"


def _relabel(signals: DataFrame, rows: DedupRows, frame: DataFrame) -> DataFrame:
    """A child table's signals: its id column, then the parent ``sample_id``, then the dup columns."""
    if rows.table is None:
        return signals
    parents = frame.select(F.col("sample_id").alias(rows.id_column), F.col(_PARENT).alias("sample_id"))
    rest = [c for c in signals.columns if c != "sample_id"]
    return signals.withColumnRenamed("sample_id", rows.id_column).join(parents, rows.id_column).select(rows.id_column, "sample_id", *rest)


def run_dedup_step(ctx: RunContext, step: Any, produced: dict[str, str], progress: StageProgress | None = None) -> StageResult:
    """Dedup the samples ``step`` has not seen yet against themselves and history; merge kept keys.

    ``progress`` is told the pending rows once they are counted.
    """
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    method = method_of(step)
    name = step.name
    stage, target = f"dedup_{name}", f"dedup_{name}"
    started = time.perf_counter()
    spark.sql(DEDUP_KEYS_DDL.format(table=lake.table(KEYS_TABLE), buckets=ctx.buckets))
    rows = method.rows
    source, inputs = read_rows(ctx, rows, step.reads, produced)
    frame = source
    result = StageResult(stage, lake.table(target), 0, 0, 0, 0.0, None)
    done = lake.find_commit(target, run_id, stage)
    if done:
        result.rows_in = result.rows_out = done.added_records
        result.snapshot_id, result.skipped, result.note = done.snapshot_id, True, "already committed by this run"
    else:
        if lake.exists(target):
            seen = spark.table(lake.table(target)).select(F.col(rows.id_column).alias("sample_id"))
            frame = frame.join(seen, "sample_id", "left_anti")
        history = spark.table(lake.table(KEYS_TABLE))
        res = method.run(step, frame, history, run_id)
        signals = _relabel(res.signals, rows, frame).withColumn("run_id", F.lit(run_id))
        lake.ensure_table(target, signals.schema)
        rows_in = frame.count()
        if progress:
            progress.started(rows_in)
        dropped = 0

        def check(added: DataFrame) -> None:
            nonlocal dropped
            row = added.agg(F.count(F.lit(1)), F.sum((~F.col("dup_keep")).cast("long"))).first()
            if row[0] != rows_in:
                raise AuditFailed(f"{stage}: row count check failed: read {rows_in} rows, staged {row[0]}")
            dropped = int(row[1] or 0)

        # the columns the step read, so ``spark-mm trace`` can show the texts (or ids) of a group
        extra = {READS_PROP: ",".join(step.reads)}
        commit = lake.append(target, signals, ctx.lineage(stage, (method.lineage,), inputs), audit=check, extra=extra)
        result.rows_in, result.rows_out = rows_in, commit.added_records if commit else 0
        result.snapshot_id = commit.snapshot_id if commit else None
        result.note = f"{dropped} not kept (dup_keep=false: duplicates or missing input)"
    _merge_keys(ctx, step, stage, source, inputs)
    result.seconds = time.perf_counter() - started
    return result


def _merge_keys(ctx: RunContext, step: Any, stage: str, source: DataFrame, inputs: str) -> None:
    """Add this run's kept keys to dedup_keys (skipped when this run already merged them).

    The keys are a projection of the step's input (no candidate generation): the signals this
    run committed say which samples were kept.
    """
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    if lake.find_commit(KEYS_TABLE, run_id, stage):
        return
    method = method_of(step)
    id_column = method.rows.id_column
    committed = spark.table(lake.table(f"dedup_{step.name}")).where(F.col("run_id") == run_id)
    committed = committed.select(F.col(id_column).alias("sample_id"), "dup_keep")
    keys = method.keys(step, source.join(committed.select("sample_id"), "sample_id", "left_semi"))
    # Materialised on the executors first: it cuts the plan (Spark 4.1's optimizer rejects MERGE
    # over a long one) and the keys are small (8-16 byte keys, or one signature per kept sample).
    rows = history_rows(keys, committed, run_id=run_id).localCheckpoint(eager=True)
    view = f"spark_mm_new_keys_{step.name}"
    rows.createOrReplaceTempView(view)
    props = ctx.lineage(stage, (method.lineage,), inputs).properties()
    for key, value in props.items():
        spark.conf.set(f"spark.sql.iceberg.snapshot-property.{key}", value)
    try:
        # Idempotent: a retry whose keys are all present inserts nothing.
        spark.sql(merge_keys_sql(lake.table(KEYS_TABLE), view))
    finally:
        for key in props:
            spark.conf.unset(f"spark.sql.iceberg.snapshot-property.{key}")
