"""The one place a stage's input is assembled: samples at a pinned snapshot joined with the
earlier signal tables that hold the columns it reads, and the lineage ``input`` string naming
every table ``@snapshot`` read."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame

from spark_mm.engine.context import RunContext
from spark_mm.lake.schema import SAMPLES_COLUMNS

SAMPLES = "samples"


def join_inputs(ctx: RunContext, columns: Sequence[str], produced: dict[str, str]) -> tuple[DataFrame, str]:
    """``sample_id`` plus ``columns`` for every sample, and the lineage input string.

    Args:
        ctx: the run.
        columns: columns to read, from ``samples`` or from the signal table ``produced`` names.
        produced: column → signal table (without namespace) that holds it.

    Returns:
        (frame, ``lake.ns.samples@<snap>,lake.ns.signals_x@<snap>,...``).
    """
    lake, spark = ctx.lake, ctx.spark
    snapshot = lake.current_snapshot_id(SAMPLES)
    sample_cols = [c for c in columns if c in SAMPLES_COLUMNS and c != "sample_id"]
    frame = spark.read.option("versionAsOf", snapshot).table(lake.table(SAMPLES)).select("sample_id", *sample_cols)
    inputs = [f"{lake.table(SAMPLES)}@{snapshot}"]
    by_table: dict[str, list[str]] = {}
    for col in columns:
        if col not in SAMPLES_COLUMNS:
            by_table.setdefault(produced[col], []).append(col)
    for name, cols in by_table.items():
        snap = lake.current_snapshot_id(name)
        prev = spark.read.option("versionAsOf", snap).table(lake.table(name)).select("sample_id", *cols)
        frame = frame.join(prev, "sample_id", "left")
        inputs.append(f"{lake.table(name)}@{snap}")
    return frame, ",".join(inputs)
