"""``spark-mm analyze``: the distribution of every signal of a table, stored in ``<ns>.analysis``.

Data-Juicer's analyzer (``OverallAnalysis``: pandas ``describe`` per stats column) made
Spark-native: count, nulls, mean, sample std, min, max and approximate quantiles of each signal
in one aggregate over one snapshot of the table, then equal-width bins in a second pass (the
report's binning, :func:`spark_mm.report.metrics.histograms`). Each analysed column becomes one
row of the Iceberg table ``<ns>.analysis``, naming the table and the snapshot it read, so
``spark-mm suggest`` and later readers know exactly which data the numbers describe.

Besides stored numeric columns, the derived signals that filter thresholds bound (e.g. the
shorter image side, ``least(img_width, img_height)``) are analysed whenever their input columns
are in the table; ``spark_mm/ops/thresholds.py`` declares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pydantic import ValidationError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.errors import ConfigError
from spark_mm.lake.identifiers import check_name, sql_string
from spark_mm.lake.lineage import PREFIX
from spark_mm.lake.settings import LakeSettings
from spark_mm.lake.tables import Lake
from spark_mm.ops import registry
from spark_mm.ops.thresholds import SignalExpr
from spark_mm.report.metrics import Histogram, histograms, measure_columns

ANALYSIS_TABLE = "analysis"
#: Quantiles stored per column: Data-Juicer's defaults (25/50/75) plus the tails the report shows.
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
#: ``percentile_approx`` accuracy: a returned quantile's rank is within ``rows / ACCURACY`` of the exact one.
ACCURACY = 10_000

ANALYSIS_SCHEMA = T.StructType(
    [
        T.StructField("table_name", T.StringType(), False),
        T.StructField("snapshot_id", T.LongType(), False),
        T.StructField("column", T.StringType(), False),
        T.StructField("signal_sql", T.StringType(), True),  # null: a stored column; else the expression analysed
        T.StructField("count", T.LongType(), False),
        T.StructField("nulls", T.LongType(), False),
        T.StructField("mean", T.DoubleType(), True),
        T.StructField("std", T.DoubleType(), True),
        T.StructField("min", T.DoubleType(), True),
        T.StructField("max", T.DoubleType(), True),
        T.StructField("quantile_probs", T.ArrayType(T.DoubleType(), False), False),
        T.StructField("quantiles", T.ArrayType(T.DoubleType(), True), False),
        T.StructField("bin_edges", T.ArrayType(T.DoubleType(), False), False),
        T.StructField("bin_counts", T.ArrayType(T.LongType(), False), False),
        T.StructField("bins_clipped", T.BooleanType(), False),
        T.StructField("analysed_at", T.TimestampType(), False),
        T.StructField("run_id", T.StringType(), False),
    ]
)


@dataclass(frozen=True)
class ColumnStats:
    """One analysed signal, as stored in ``<ns>.analysis``."""

    column: str
    signal_sql: str | None
    histogram: Histogram

    @property
    def mean(self) -> float | None:
        return self.histogram.mean

    @property
    def std(self) -> float | None:
        return self.histogram.std


@dataclass(frozen=True)
class Analysis:
    """The analysis of one table at one snapshot."""

    table: str  # NS.TABLE
    snapshot_id: int
    run_id: str
    columns: dict[str, ColumnStats]


def split_table(identifier: str) -> tuple[str, str]:
    """``NS.TABLE`` → (namespace, table), both checked as safe identifiers.

    >>> split_table("demo.signals_cpu")
    ('demo', 'signals_cpu')
    """
    parts = identifier.split(".")
    if len(parts) != 2:
        raise ConfigError(f"table {identifier!r}: expected NAMESPACE.TABLE, e.g. demo.signals_cpu")
    return check_name(parts[0], "namespace"), check_name(parts[1], "table")


def derived_signals() -> list[SignalExpr]:
    """Derived signals that some operator's thresholds bound (with that operator's default columns)."""
    out: dict[str, SignalExpr] = {}
    for cls in registry.operators().values():
        try:
            params = cls.Params()  # type: ignore[call-arg]
        except ValidationError:  # params without defaults (a model path, a list file) declare no derived signal by default
            continue
        for t in params.threshold_signals().values():
            if t.signal.derived:
                out.setdefault(t.signal.name, t.signal)
    return list(out.values())


def _signal_frame(frame: DataFrame, columns: list[str] | None) -> tuple[DataFrame, dict[str, str | None]]:
    """``frame`` plus the derived signals its columns allow, and the chosen signal → SQL (None: stored)."""
    present = set(frame.columns)
    derived = {s.name: s for s in derived_signals() if set(s.columns) <= present and s.name not in present}
    stored = measure_columns(frame)
    available: dict[str, str | None] = {c: None for c in stored} | {n: s.expression for n, s in derived.items()}
    chosen = list(available) if columns is None else columns
    unknown = [c for c in chosen if c not in available]
    if unknown:
        raise ConfigError(f"--columns {unknown}: not numeric signal columns of this table; available: {sorted(available)}")
    extra = [F.expr(derived[c].expression).cast("double").alias(c) for c in chosen if c in derived]
    return (frame.select("*", *extra) if extra else frame), {c: available[c] for c in chosen}


def analyze(spark: SparkSession, lake: LakeSettings, identifier: str, run_id: str, columns: list[str] | None = None) -> Analysis:
    """Analyse the current snapshot of ``NS.TABLE`` and append one row per signal to ``NS.analysis``."""
    ns, name = split_table(identifier)
    tables = Lake(spark, lake, ns)
    if not tables.exists(name):
        raise ConfigError(f"table {tables.table(name)} does not exist; list tables with: spark-mm sql 'SHOW TABLES IN {lake.catalog}.{ns}'")
    snapshot = tables.current_snapshot_id(name)
    if snapshot is None:
        raise ConfigError(f"table {tables.table(name)} has no snapshot yet (nothing written): run the recipe first")
    frame = spark.sql(f"SELECT * FROM {tables.table(name)} VERSION AS OF {snapshot}")
    frame, chosen = _signal_frame(frame, columns)
    extra = tuple(q for q in QUANTILES if q not in (0.05, 0.5, 0.95))
    hists = histograms(frame, f"{ns}.{name}", list(chosen), quantiles=extra, accuracy=ACCURACY)
    stats = {h.column: ColumnStats(h.column, chosen[h.column], h) for h in hists}
    result = Analysis(f"{ns}.{name}", snapshot, run_id, stats)
    _write(spark, tables, result)
    return result


def _quantiles(h: Histogram) -> tuple[list[float], list[float | None]]:
    by_prob = dict(h.quantiles)
    by_prob.update({0.05: h.p05, 0.5: h.p50, 0.95: h.p95})  # type: ignore[dict-item]
    probs = sorted(by_prob)
    return probs, [by_prob[p] for p in probs]


def _write(spark: SparkSession, tables: Lake, a: Analysis) -> None:
    tables.ensure_namespace()
    full = tables.table(ANALYSIS_TABLE)
    cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}" for f in ANALYSIS_SCHEMA.fields)
    spark.sql(f"CREATE TABLE IF NOT EXISTS {full} ({cols}) USING iceberg")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = []
    for c in a.columns.values():
        h = c.histogram
        probs, values = _quantiles(h) if h.count else ([], [])
        rows.append(
            (a.table, a.snapshot_id, c.column, c.signal_sql, h.count, h.nulls, h.mean, h.std, h.minimum, h.maximum,
             probs, values, list(h.edges), list(h.counts), h.clipped, now, a.run_id)
        )
    if not rows:
        return
    frame = spark.createDataFrame(rows, ANALYSIS_SCHEMA)
    writer = frame.writeTo(full)
    for key, value in {"run-id": a.run_id, "job": "analyze", "input": f"{tables.table(a.table.split('.')[1])}@{a.snapshot_id}"}.items():
        writer = writer.option(f"snapshot-property.{PREFIX}{key}", value)
    writer.append()


def latest(spark: SparkSession, lake: LakeSettings, identifier: str) -> Analysis | None:
    """The newest analysis of ``NS.TABLE`` stored in ``NS.analysis`` (None when never analysed)."""
    ns, name = split_table(identifier)
    tables = Lake(spark, lake, ns)
    if not tables.exists(ANALYSIS_TABLE):
        return None
    newest = spark.sql(
        f"SELECT run_id, snapshot_id FROM {tables.table(ANALYSIS_TABLE)} WHERE table_name = {sql_string(f'{ns}.{name}')} "
        "ORDER BY analysed_at DESC LIMIT 1"
    ).collect()
    if not newest:
        return None
    run_id, snapshot = newest[0]["run_id"], int(newest[0]["snapshot_id"])
    rows = spark.sql(
        f"SELECT * FROM {tables.table(ANALYSIS_TABLE)} WHERE table_name = {sql_string(f'{ns}.{name}')} AND run_id = {sql_string(run_id)}"
    ).collect()
    cols: dict[str, ColumnStats] = {}
    for r in rows:
        q = dict(zip(r["quantile_probs"], r["quantiles"]))
        h = Histogram(
            f"{ns}.{name}", r["column"], int(r["count"]), int(r["nulls"]), r["min"], r["max"], q.get(0.05), q.get(0.5), q.get(0.95),
            tuple(r["bin_edges"]), tuple(int(x) for x in r["bin_counts"]), bool(r["bins_clipped"]),
            mean=r["mean"], std=r["std"], quantiles=tuple((p, v) for p, v in q.items() if p not in (0.05, 0.5, 0.95)),
        )
        cols[r["column"]] = ColumnStats(r["column"], r["signal_sql"], h)
    return Analysis(f"{ns}.{name}", snapshot, run_id, cols)
