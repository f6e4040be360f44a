"""Ingest: a source's bronze rows into ``<ns>.samples``, new samples only, one audited commit."""

from __future__ import annotations

import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.error_policy import check_not_all_errors
from spark_mm.engine.inputs import SAMPLES
from spark_mm.lake.audit import AuditFailed
from spark_mm.lake.schema import SAMPLES_COLUMNS
from spark_mm.sources.reader import read_source


def ingest(ctx: RunContext, source_spec: object, allow_all_errors: bool = False) -> StageResult:
    """Append the source's samples that the table does not hold yet (skipped when this run did).

    A commit whose every new row has an ``ingest_error`` fails unless ``allow_all_errors``.
    """
    lake, spark = ctx.lake, ctx.spark
    table = lake.table(SAMPLES)
    done = lake.find_commit(SAMPLES, ctx.run_id, "ingest")
    if done:
        return StageResult("ingest", table, done.added_records, done.added_records, 0, 0.0, done.snapshot_id, skipped=True, note="already committed by this run")
    started = time.perf_counter()
    source = read_source(spark, source_spec, ctx.run_id)
    rows_in = source.frame.count()
    existing = spark.table(table).select("sample_id")
    new = source.frame.join(existing, "sample_id", "left_anti").select(*SAMPLES_COLUMNS)
    errors = 0

    def check(added: DataFrame) -> None:
        nonlocal errors
        rows = added.agg(F.count(F.lit(1)), F.sum(F.col("sample_id").isNull().cast("long")), F.sum(F.col("ingest_error").isNotNull().cast("long"))).first()
        if rows[1]:
            raise AuditFailed(f"ingest into {table}: null check failed: {rows[1]} rows have null sample_id")
        errors = int(rows[2] or 0)
        check_not_all_errors(f"ingest into {table}", int(rows[0]), errors, allow_all_errors)

    commit = lake.append(SAMPLES, new, ctx.lineage("ingest", (), source.input), audit=check)
    added = commit.added_records if commit else 0
    return StageResult(
        "ingest", table, rows_in, added, errors, time.perf_counter() - started, commit.snapshot_id if commit else None,
        note=f"{rows_in - added} already in the table" if rows_in != added else "",
    )
