"""Runs a recipe's dedup steps: signals into ``<ns>.dedup_<name>``, keys into ``<ns>.dedup_keys``.

A step processes the samples that have no row in its table yet (a new crawl), matches them
against every earlier run through the side-channel ``dedup_keys`` index (never reprocessing old
samples), writes its signals with write-audit-publish, then adds the kept samples' keys with an
idempotent MERGE. A retried run skips what it already committed and its MERGE inserts nothing new.
"""

from __future__ import annotations

import time
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_mm.dedup import DEDUP_KEYS_DDL, DedupResult, exact_dedup, history_rows, merge_keys_sql, minhash_dedup, phash_dedup, url_dedup
from spark_mm.dedup.steps import ExactDedupStep, MinhashDedupStep, PhashDedupStep, UrlDedupStep
from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.inputs import join_inputs
from spark_mm.lake.audit import AuditFailed

KEYS_TABLE = "dedup_keys"


def dedup(step: object, frame: DataFrame, history: DataFrame | None, run_id: str) -> DedupResult:
    """Dispatch one step to its Spark dedup function."""
    if isinstance(step, PhashDedupStep):
        return phash_dedup(frame, phash_col=step.column, radius_bits=step.radius_bits, policy=step.keep, history=history, run_id=run_id)
    if isinstance(step, MinhashDedupStep):
        return minhash_dedup(
            frame, bands_col=step.column, key_type=step.key_type, sig_col=step.signature_column,
            jaccard_threshold=step.jaccard_threshold, policy=step.keep, history=history, run_id=run_id,
        )
    if isinstance(step, ExactDedupStep):
        return exact_dedup(frame, key_col=step.column, name=step.name, policy=step.keep, history=history, run_id=run_id)
    if isinstance(step, UrlDedupStep):
        return url_dedup(frame, key_col=step.column, policy=step.keep, history=history, run_id=run_id)
    raise TypeError(f"unknown dedup step {type(step).__name__}")


def _input(ctx: RunContext, step: object, produced: dict[str, str]) -> tuple[DataFrame, str]:
    columns = [step.column] + ([step.keep.signal_column] if step.keep.signal_column else [])  # type: ignore[attr-defined]
    if isinstance(step, MinhashDedupStep) and step.signature_column:
        columns.append(step.signature_column)
    return join_inputs(ctx, columns, produced)


def run_dedup_step(ctx: RunContext, step: object, produced: dict[str, str]) -> StageResult:
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    name = step.name  # type: ignore[attr-defined]
    stage, target = f"dedup_{name}", f"dedup_{name}"
    started = time.perf_counter()
    spark.sql(DEDUP_KEYS_DDL.format(table=lake.table(KEYS_TABLE), buckets=ctx.buckets))
    frame, inputs = _input(ctx, step, produced)
    result = StageResult(stage, lake.table(target), 0, 0, 0, 0.0, None)
    done = lake.find_commit(target, run_id, stage)
    if done:
        result.rows_in = result.rows_out = done.added_records
        result.snapshot_id, result.skipped, result.note = done.snapshot_id, True, "already committed by this run"
    else:
        if lake.exists(target):
            frame = frame.join(spark.table(lake.table(target)).select("sample_id"), "sample_id", "left_anti")
        history = spark.table(lake.table(KEYS_TABLE))
        res = dedup(step, frame, history, run_id)
        signals = res.signals.withColumn("run_id", F.lit(run_id))
        lake.ensure_table(target, signals.schema)
        rows_in = frame.count()
        dropped = 0

        def check(added: DataFrame) -> None:
            nonlocal dropped
            row = added.agg(F.count(F.lit(1)), F.sum((~F.col("dup_keep")).cast("long"))).first()
            if row[0] != rows_in:
                raise AuditFailed(f"{stage}: row count check failed: read {rows_in} rows, staged {row[0]}")
            dropped = int(row[1] or 0)

        commit = lake.append(target, signals, ctx.lineage(stage, (f"{step.method}@1",), inputs), audit=check)  # type: ignore[attr-defined]
        result.rows_in, result.rows_out = rows_in, commit.added_records if commit else 0
        result.snapshot_id = commit.snapshot_id if commit else None
        result.note = f"{dropped} duplicates (dup_keep=false)"
    _merge_keys(ctx, step, stage, produced)
    result.seconds = time.perf_counter() - started
    return result


def _merge_keys(ctx: RunContext, step: object, stage: str, produced: dict[str, str]) -> None:
    """Add this run's kept keys to dedup_keys (skipped when this run already merged them)."""
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    if lake.find_commit(KEYS_TABLE, run_id, stage):
        return
    committed = spark.table(lake.table(f"dedup_{step.name}")).where(F.col("run_id") == run_id)  # type: ignore[attr-defined]
    frame, inputs = _input(ctx, step, produced)
    keys = dedup(step, frame.join(committed.select("sample_id"), "sample_id", "left_semi"), None, run_id).keys
    # Materialised on the executors first: it cuts the long dedup plan (Spark 4.1's optimizer
    # rejects MERGE over it) and the keys are tiny (a few 8-16 byte keys per sample).
    rows = history_rows(keys, committed, run_id=run_id).localCheckpoint(eager=True)
    view = f"spark_mm_new_keys_{step.name}"  # type: ignore[attr-defined]
    rows.createOrReplaceTempView(view)
    props = ctx.lineage(stage, (f"{step.method}@1",), inputs).properties()  # type: ignore[attr-defined]
    for key, value in props.items():
        spark.conf.set(f"spark.sql.iceberg.snapshot-property.{key}", value)
    try:
        # Idempotent: a retry whose keys are all present inserts nothing.
        spark.sql(merge_keys_sql(lake.table(KEYS_TABLE), view))
    finally:
        for key in props:
            spark.conf.unset(f"spark.sql.iceberg.snapshot-property.{key}")
