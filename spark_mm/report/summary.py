"""The per-stage summary a job prints when it finishes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spark_mm.engine.runner import RunResult
from spark_mm.paths import describe_home


def format_summary(result: RunResult, warehouse: str) -> str:
    """A fixed-width table: stage, rows in/out, rows with errors, seconds, table, snapshot."""
    header = f"{'stage':<18} {'rows in':>8} {'rows out':>9} {'errors':>7} {'seconds':>8}  table @ snapshot"
    lines = [f"spark-mm run {result.run_id} (job {result.job}, namespace {result.namespace})", header, "-" * len(header)]
    for s in result.stages:
        flag = " (skipped: " + s.note + ")" if s.skipped else (f"  [{s.note}]" if s.note else "")
        lines.append(f"{s.stage:<18} {s.rows_in:>8} {s.rows_out:>9} {s.rows_with_errors:>7} {s.seconds:>8.1f}  {s.table} @ {s.snapshot_id}{flag}")
    if result.skipped_models:
        lines.append(skipped_models_line(result.skipped_models))
    lines.append(f"tables live in catalog '{result.catalog}', warehouse {warehouse}")
    lines.append(f"project home: {describe_home()}")
    lines.append(f"query them: spark-mm sql \"SELECT * FROM {result.namespace}.signals_<stage> LIMIT 5\"")
    return "\n".join(lines)


def skipped_models_line(skipped: Mapping[str, Sequence[str]]) -> str:
    """The one console line for every model a run skipped; the reasons are in the report and ``--verbose``.

    >>> skipped_models_line({"image_models": ("img_clip@1", "img_siglip2@1")})
    '!! models skipped (weights absent, on_missing: skip; their columns are null): stage image_models: img_clip@1, img_siglip2@1; details: spark-mm run --verbose or the report'
    """
    stages = "; ".join(f"stage {stage}: {', '.join(ops)}" for stage, ops in skipped.items())
    return f"!! models skipped (weights absent, on_missing: skip; their columns are null): {stages}; details: spark-mm run --verbose or the report"
