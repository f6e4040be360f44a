"""Audits a staged (unpublished) snapshot must pass before it is published to ``main``.

Checks: rows in = rows out, error rate under the configured ceiling, required columns present
with their declared types, and no nulls in the key columns. A failure names the check and by how
much it failed; the staged snapshot stays unpublished, so readers of ``main`` never see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.errors import SparkMMError


class AuditFailed(SparkMMError):
    """A staged commit failed its audit and was not published."""


@dataclass(frozen=True)
class AuditSpec:
    """What a stage commit must satisfy."""

    expected_rows: int
    max_error_rate: float
    required: T.StructType
    not_null: tuple[str, ...] = ("sample_id", "run_id")
    error_column: str | None = "errors"  # map column; rows with a non-empty map count as errors


@dataclass(frozen=True)
class AuditReport:
    rows: int
    rows_with_errors: int

    @property
    def error_rate(self) -> float:
        return self.rows_with_errors / self.rows if self.rows else 0.0


def audit(added: DataFrame, spec: AuditSpec, what: str) -> AuditReport:
    """Audit the rows a staged snapshot added; raise AuditFailed on the first failing check."""
    fields = {f.name: f.dataType for f in added.schema.fields}
    for f in spec.required.fields:
        if f.name not in fields:
            raise AuditFailed(f"{what}: schema check failed: column {f.name!r} missing from the staged commit")
        if fields[f.name] != f.dataType:
            raise AuditFailed(f"{what}: schema check failed: column {f.name!r} is {fields[f.name].simpleString()}, expected {f.dataType.simpleString()}")
    aggs = [F.count(F.lit(1)).alias("rows")]
    aggs += [F.sum(F.col(c).isNull().cast("long")).alias(f"null_{c}") for c in spec.not_null]
    if spec.error_column:
        aggs.append(F.sum((F.size(spec.error_column) > 0).cast("long")).alias("errors"))
    row = added.agg(*aggs).first()
    rows = int(row["rows"])
    if rows != spec.expected_rows:
        raise AuditFailed(f"{what}: row count check failed: read {spec.expected_rows} rows, staged {rows} (off by {rows - spec.expected_rows:+d})")
    for c in spec.not_null:
        nulls = int(row[f"null_{c}"] or 0)
        if nulls:
            raise AuditFailed(f"{what}: null check failed: {nulls} of {rows} rows have null {c}")
    report = AuditReport(rows, int(row["errors"] or 0) if spec.error_column else 0)
    if report.error_rate > spec.max_error_rate:
        raise AuditFailed(
            f"{what}: error-rate check failed: {report.rows_with_errors} of {rows} rows have errors "
            f"({report.error_rate:.1%}) > max_error_rate {spec.max_error_rate:.1%}"
        )
    return report


def child_rows_check(what: str, expected: int, id_column: str, noun: str) -> Callable[[DataFrame], None]:
    """The audit of rows exploded from their parents (a page's links, a video's clips) before publish:
    exactly ``expected`` rows, no null ``id_column`` or ``sample_id``, every ``id_column`` distinct.

    Raises (from the returned check):
        AuditFailed: naming ``what`` and the check that failed.
    """

    def check(added: DataFrame) -> None:
        row = added.agg(
            F.count(F.lit(1)), F.countDistinct(id_column), F.sum(F.col(id_column).isNull().cast("long")),
            F.sum(F.col("sample_id").isNull().cast("long")),
        ).first()
        if int(row[0]) != expected:
            raise AuditFailed(f"{what}: row count check failed: the parents yielded {expected} {noun}, staged {row[0]}")
        if int(row[2] or 0) or int(row[3] or 0):
            raise AuditFailed(f"{what}: null check failed: {row[2]} null {id_column}, {row[3]} null sample_id")
        if int(row[1]) != expected:
            raise AuditFailed(f"{what}: unique-id check failed: {expected} {noun} but {row[1]} distinct {id_column}")

    return check
