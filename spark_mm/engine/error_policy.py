"""When a commit has too many error rows to publish: the rate ceiling and the all-errors rule.

The rate ceiling (``run.max_error_rate``, default 0.5, or the stage's own) is checked by the audit
(``lake/audit.py``). Independently of it, a commit whose every row is an error is refused unless
``allow_all_errors`` is set: a run whose every input is unreadable must not exit 0 with a success
report, also where a recipe raised the ceiling to 1.0. Both apply per commit (a stage chunk, or
ingest), before it is published.
"""

from __future__ import annotations

from dataclasses import dataclass

from spark_mm.lake.audit import AuditFailed


@dataclass(frozen=True)
class ErrorPolicy:
    """The error ceilings one stage's commits are held to."""

    max_error_rate: float
    allow_all_errors: bool


def stage_policy(run: object, stage: object | None = None) -> ErrorPolicy:
    """The stage's own settings where it has them, else the run's (``run:`` block of the recipe)."""
    rate = getattr(stage, "max_error_rate", None)
    allow = getattr(stage, "allow_all_errors", None)
    return ErrorPolicy(
        run.max_error_rate if rate is None else rate,  # type: ignore[attr-defined]
        run.allow_all_errors if allow is None else allow,  # type: ignore[attr-defined]
    )


def check_not_all_errors(what: str, rows: int, rows_with_errors: int, allowed: bool) -> None:
    """Raise :class:`AuditFailed` when every one of ``rows`` (> 0) rows is an error and that is not allowed.

    >>> check_not_all_errors("ingest", 3, 2, False)
    >>> check_not_all_errors("ingest", 3, 3, True)
    >>> check_not_all_errors("ingest", 3, 3, False)
    Traceback (most recent call last):
    ...
    spark_mm.lake.audit.AuditFailed: ingest: all-errors check failed: every one of the 3 rows has an error; fix the input or the stage, or set allow_all_errors: true (run.allow_all_errors or the stage's) to publish it anyway
    """
    if rows and rows_with_errors >= rows and not allowed:
        raise AuditFailed(
            f"{what}: all-errors check failed: every one of the {rows} rows has an error; fix the input or the stage, "
            "or set allow_all_errors: true (run.allow_all_errors or the stage's) to publish it anyway"
        )
