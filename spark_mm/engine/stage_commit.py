"""Which samples (or clips) a stage (re)computes, and the one audited commit each chunk makes.

A sample is pending when its ``signals_<stage>`` row is missing, has a null fingerprint (written
before fingerprints existed) or a fingerprint other than the recipe's; under ``--recompute`` every
sample is. A chunk whose pending samples are all new is appended (the fast path, unchanged); a
chunk that replaces rows is one ``MERGE INTO`` on ``sample_id`` (``Lake.replace``). Either way
the audit checks rows in = rows out for the chunk, and a replace also checks that the table
holds exactly one row for every sample it wrote. A stage ``over: clips`` does the same with
``clip_id`` as the key (``key``): one row per clip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_mm.engine.error_policy import ErrorPolicy, check_not_all_errors
from spark_mm.engine.fingerprint import FINGERPRINT_FIELD, StageFingerprint, describe_recomputed
from spark_mm.lake.audit import AuditFailed, AuditReport, AuditSpec, audit
from spark_mm.lake.lineage import PREFIX, Lineage
from spark_mm.lake.tables import Commit, Lake

OLD_FINGERPRINT = "_spark_mm_old_fingerprint"
HAS_ROW = "_spark_mm_has_row"
ROWS_PROP = f"{PREFIX}rows"  # rows the chunk wrote (a MERGE's added-records counts rewritten files too)
RECOMPUTED_PROP = f"{PREFIX}recomputed"  # "<n> rows from <old fingerprint>=<n>,..."
RECOMPUTED_ROWS_PROP = f"{PREFIX}recomputed-rows"
FINGERPRINT_PROP = f"{PREFIX}fingerprint"
FINGERPRINT_OPS_PROP = f"{PREFIX}fingerprint-ops"


def pending(frame: DataFrame, existing: DataFrame | None, fingerprint: str, force: bool, key: str = "sample_id") -> DataFrame:
    """``frame`` cut to the samples the stage must compute, with ``HAS_ROW`` and ``OLD_FINGERPRINT``.

    Args:
        frame: the stage input, one row per sample (``sample_id`` plus the columns it reads).
        existing: the stage's signals table, or None when it has no snapshot yet.
        fingerprint: the stage's current fingerprint digest.
        force: ``--recompute``: every sample, current or not.
        key: the row key: ``sample_id``, or ``clip_id`` for a clip stage.
    """
    if existing is None:
        return frame.withColumn(HAS_ROW, F.lit(False)).withColumn(OLD_FINGERPRINT, F.lit(None).cast("string"))
    rows = existing.select(key, F.col(FINGERPRINT_FIELD.name).alias(OLD_FINGERPRINT), F.lit(True).alias(HAS_ROW))
    joined = frame.join(rows, key, "left").withColumn(HAS_ROW, F.coalesce(F.col(HAS_ROW), F.lit(False)))
    if force:
        return joined
    return joined.where(~F.col(HAS_ROW) | F.col(OLD_FINGERPRINT).isNull() | (F.col(OLD_FINGERPRINT) != F.lit(fingerprint)))


@dataclass(frozen=True)
class PendingCounts:
    """A chunk's pending samples: how many, and the rows they replace per old fingerprint."""

    rows: int
    replaced: dict[str | None, int] = field(default_factory=dict)

    @property
    def replaced_rows(self) -> int:
        return sum(self.replaced.values())


def count_pending(part: DataFrame) -> PendingCounts:
    """One small aggregate: pending rows by (has a row, old fingerprint)."""
    groups = part.groupBy(HAS_ROW, OLD_FINGERPRINT).count().collect()
    replaced = {r[OLD_FINGERPRINT]: int(r["count"]) for r in groups if r[HAS_ROW]}
    return PendingCounts(sum(int(r["count"]) for r in groups), replaced)


def stage_input(part: DataFrame) -> DataFrame:
    """The pending frame without the selection columns: what the stage's ``mapInArrow`` reads."""
    return part.drop(HAS_ROW, OLD_FINGERPRINT)


@dataclass(frozen=True)
class ChunkCommit:
    """What one published chunk wrote."""

    commit: Commit | None
    rows: int
    rows_with_errors: int
    recomputed: int


def commit_chunk(
    lake: Lake,
    target: str,
    out: DataFrame,
    lineage: Lineage,
    counts: PendingCounts,
    fingerprint: StageFingerprint,
    spec: AuditSpec,
    policy: ErrorPolicy,
    chunk_filter: Column | None,
    what: str,
    key: str = "sample_id",
) -> ChunkCommit:
    """Write, audit and publish one chunk: an append when it replaces nothing, else one MERGE on ``key``."""
    extra = {ROWS_PROP: str(counts.rows), FINGERPRINT_PROP: fingerprint.digest, FINGERPRINT_OPS_PROP: fingerprint.describe()}
    reports: list[AuditReport] = []

    def checked(rows: DataFrame) -> AuditReport:
        report = audit(rows, spec, what)
        check_not_all_errors(what, report.rows, report.rows_with_errors, policy.allow_all_errors)
        reports.append(report)
        return report

    if not counts.replaced:
        commit = lake.append(target, out, lineage, audit=checked, extra=extra)
        rows = commit.added_records if commit else 0
    else:
        extra[RECOMPUTED_PROP] = describe_recomputed(counts.replaced)
        extra[RECOMPUTED_ROWS_PROP] = str(counts.replaced_rows)
        commit = lake.replace(target, out, lineage, audit=lambda staged: _audit_replace(staged, lineage.run_id, chunk_filter, checked, what, key), extra=extra, key=key)
        rows = reports[0].rows if commit and reports else 0
    errors = sum(r.rows_with_errors for r in reports)
    return ChunkCommit(commit, rows, errors, counts.replaced_rows if commit else 0)


def _audit_replace(
    staged: DataFrame, run_id: str, chunk_filter: Column | None, checked: Callable[[DataFrame], AuditReport], what: str, key: str = "sample_id"
) -> None:
    """Audit the rows a MERGE wrote (this run's rows of this chunk) and one row per written ``key``."""
    written = chunk_rows(staged, run_id, chunk_filter)
    report = checked(written)
    held = staged.join(written.select(key), key, "left_semi").agg(F.count(F.lit(1)), F.countDistinct(key)).first()
    rows, keys = int(held[0]), int(held[1])
    if rows != report.rows or keys != report.rows:
        raise AuditFailed(f"{what}: one-row-per-{key} check failed: the staged table holds {rows} rows for the {keys} {key}s this chunk wrote ({report.rows} written)")


def chunk_rows(table: DataFrame, run_id: str, chunk_filter: Column | None) -> DataFrame:
    """The rows of ``table`` (read at a snapshot) that ``run_id`` wrote in one chunk."""
    rows = table.where(F.col("run_id") == F.lit(run_id))
    return rows if chunk_filter is None else rows.where(chunk_filter)


def resumed_rows(commit: Commit) -> int:
    """Rows a published chunk wrote, from its lineage (older commits: their added records)."""
    return int(commit.summary.get(ROWS_PROP, commit.added_records))


def resumed_recomputed(commit: Commit) -> int:
    return int(commit.summary.get(RECOMPUTED_ROWS_PROP, 0))
