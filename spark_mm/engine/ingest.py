"""Ingest: a source's bronze rows into ``<ns>.samples``, new samples only, one audited commit.

Identity (docs/identity.md): the reader gives every row its id; here a native id that occurs twice
in one ingest keeps its first occurrence (by file, then position) and later ones become error rows
with their positional id; rows whose id is already in the table are the same record ingested again
and are skipped; WARC records of unselected types are counted and dropped. The audit refuses a
staged commit that holds a ``sample_id`` twice or one that ``main`` already has, naming the ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.error_policy import check_not_all_errors
from spark_mm.engine.inputs import SAMPLES
from spark_mm.engine.progress import StageProgress
from spark_mm.lake.audit import AuditFailed
from spark_mm.lake.schema import SAMPLES_COLUMNS
from spark_mm.sources.base import join_errors
from spark_mm.sources.reader import read_source

_NAMED_IDS = 10  # how many offending ids an audit failure names


@dataclass(frozen=True)
class SourceCounts:
    """One pass over the read rows: selected rows, their distinct ids, and skipped records per WARC type."""

    rows: int
    distinct_ids: int
    skipped: dict[str, int]

    @property
    def duplicate_ids(self) -> int:
        return self.rows - self.distinct_ids

    def skipped_text(self) -> str:
        """``request=12,warcinfo=1`` (sorted by type), empty when nothing was skipped."""
        return ",".join(f"{t}={n}" for t, n in sorted(self.skipped.items()))


def ingest(ctx: RunContext, source_spec: object, allow_all_errors: bool = False, progress: StageProgress | None = None) -> StageResult:
    """Append the source's samples that the table does not hold yet (skipped when this run did).

    A commit whose every new row has an ``ingest_error`` fails unless ``allow_all_errors``;
    ``progress`` is told the rows read once they are counted.
    """
    lake, spark = ctx.lake, ctx.spark
    table = lake.table(SAMPLES)
    done = lake.find_commit(SAMPLES, ctx.run_id, "ingest")
    if done:
        return StageResult("ingest", table, done.added_records, done.added_records, 0, 0.0, done.snapshot_id, skipped=True, note="already committed by this run")
    started = time.perf_counter()
    source = read_source(spark, source_spec, ctx.run_id)
    counts = count_rows(source.frame)
    if progress:
        progress.started(counts.rows)
    rows = source.frame.where(F.col("_skipped").isNull())
    if counts.duplicate_ids and source.id_field:
        rows = resolve_duplicate_ids(rows, source.id_field)
    existing = spark.table(table).select("sample_id")
    new = rows.join(existing, "sample_id", "left_anti").select(*SAMPLES_COLUMNS)
    errors = 0

    def check(added: DataFrame) -> None:
        nonlocal errors
        rows, errors = audit_ingest(added, spark.table(table), table)
        check_not_all_errors(f"ingest into {table}", rows, errors, allow_all_errors)

    lineage_input = source.input + (f"; skipped-records={counts.skipped_text()}" if counts.skipped else "")
    commit = lake.append(SAMPLES, new, ctx.lineage("ingest", (), lineage_input), audit=check)
    added = commit.added_records if commit else 0
    return StageResult(
        "ingest", table, counts.rows, added, errors, time.perf_counter() - started, commit.snapshot_id if commit else None,
        note=summary_note(counts, added, source.notes),
    )


def count_rows(frame: DataFrame) -> SourceCounts:
    """Rows, distinct ids and skipped records per type, in one job over compact columns."""
    got = frame.groupBy("_skipped").agg(F.count(F.lit(1)).alias("n"), F.countDistinct("sample_id").alias("ids")).collect()
    selected = [r for r in got if r["_skipped"] is None]
    rows, ids = (int(selected[0]["n"]), int(selected[0]["ids"])) if selected else (0, 0)
    return SourceCounts(rows, ids, {r["_skipped"]: int(r["n"]) for r in got if r["_skipped"] is not None})


def resolve_duplicate_ids(rows: DataFrame, id_field: str) -> DataFrame:
    """Later occurrences of a native id become error rows under their positional id.

    Only native-id rows (``sample_id != _pos_id``) take part; the first occurrence is the smallest
    (``source_uri``, ``source_offset``). The aggregation moves ids and positions, never payloads.
    """
    native = rows.where(F.col("sample_id") != F.col("_pos_id"))
    firsts = (
        native.groupBy("sample_id")
        .agg(F.count(F.lit(1)).alias("_n"), F.min(F.struct("source_uri", "source_offset")).alias("_first"))
        .where(F.col("_n") > 1)
        .select("sample_id", "_first")
    )
    joined = rows.join(firsts, "sample_id", "left")
    first = F.col("_first")
    later = first.isNotNull() & ~((F.col("source_uri") == first["source_uri"]) & (F.col("source_offset") == first["source_offset"]))
    message = F.concat(
        F.lit("duplicate id "), F.col("source_record_id"), F.lit(f" in column {id_field}; first at "),
        first["source_uri"], F.lit(":"), first["source_offset"].cast("string"),
    )
    return joined.select(
        *[
            F.when(later, F.col("_pos_id")).otherwise(F.col("sample_id")).alias("sample_id") if c == "sample_id"
            else F.when(later, join_errors(F.col("ingest_error"), message)).otherwise(F.col("ingest_error")).alias("ingest_error") if c == "ingest_error"
            else F.col(c)
            for c in rows.columns
        ]
    )


def audit_ingest(added: DataFrame, main: DataFrame, table: str) -> tuple[int, int]:
    """Refuse staged rows with a null, repeated or already-published ``sample_id``; return (rows, error rows).

    Raises:
        AuditFailed: naming the check and up to 10 offending ids.
    """
    row = added.agg(
        F.sum(F.col("sample_id").isNull().cast("long")), F.sum(F.col("ingest_error").isNotNull().cast("long")), F.count(F.lit(1))
    ).first()
    if row[0]:
        raise AuditFailed(f"ingest into {table}: null check failed: {row[0]} rows have null sample_id")
    repeated = [r[0] for r in added.groupBy("sample_id").count().where(F.col("count") > 1).limit(_NAMED_IDS).collect()]
    if repeated:
        raise AuditFailed(f"ingest into {table}: unique-id check failed: staged rows repeat sample_id {', '.join(sorted(repeated))}")
    published = [r[0] for r in added.select("sample_id").join(main.select("sample_id"), "sample_id").limit(_NAMED_IDS).collect()]
    if published:
        raise AuditFailed(f"ingest into {table}: unique-id check failed: sample_id already on main: {', '.join(sorted(published))}")
    return int(row[2]), int(row[1] or 0)


def summary_note(counts: SourceCounts, added: int, notes: tuple[str, ...]) -> str:
    """The ingest line's note: already-present rows, duplicate ids, skipped WARC records, source notes.

    >>> summary_note(SourceCounts(10, 9, {"request": 4}), 8, ())
    '2 already in the table; 1 repeated ids in the source (later occurrences are error rows); skipped records (record_types): request=4'
    """
    parts = []
    if counts.rows != added:
        parts.append(f"{counts.rows - added} already in the table")
    if counts.duplicate_ids:
        parts.append(f"{counts.duplicate_ids} repeated ids in the source (later occurrences are error rows)")
    if counts.skipped:
        parts.append(f"skipped records (record_types): {counts.skipped_text()}")
    return "; ".join(parts + list(notes))
