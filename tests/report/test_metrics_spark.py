"""Run metrics from small hand-made Iceberg tables: exact funnel, reasons, errors, histograms,
text samples and duplicate clusters, pinned to the run's snapshot and rows."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from spark_mm import recipe as recipes
from spark_mm.engine.context import StageResult
from spark_mm.engine.runner import RunResult
from spark_mm.recipe import LoadedRecipe
from spark_mm.report.metrics import HIST_BINS, RunMetrics, collect_metrics

NS = "rsyn"
RAW = {
    "job": "fineweb",
    "namespace": NS,
    "source": {"type": "jsonl", "path": "/nonexistent"},
    "stages": [
        {
            "name": "text",
            "ops": [{"op": "txt_extract"}, {"op": "txt_length", "min_words": 50, "max_words": 100000}, {"op": "txt_gopher_repetition"}],
        }
    ],
}
SIGNALS = T.StructType(
    [
        T.StructField("sample_id", T.StringType(), False),
        T.StructField("txt_content", T.StringType()),
        T.StructField("txt_length_words", T.IntegerType()),
        T.StructField("txt_length_ok", T.BooleanType()),
        T.StructField("txt_length_reason", T.StringType()),
        T.StructField("txt_gopher_repetition_ok", T.BooleanType()),
        T.StructField("txt_gopher_repetition_reason", T.StringType()),
        T.StructField("dup_cluster_id", T.StringType()),
        T.StructField("dup_cluster_size", T.IntegerType()),
        T.StructField("dup_keep", T.BooleanType()),
        T.StructField("dup_reason", T.StringType()),
        T.StructField("errors", T.MapType(T.StringType(), T.StringType())),
        T.StructField("run_id", T.StringType()),
    ]
)
# id, words, length ok/reason, repetition ok/reason, cluster, size, keep, dup reason, errors
ROWS = [
    ("s0", 100, True, None, True, None, "c0", 1, True, None, {}),
    ("s1", 120, True, None, True, None, "cA", 3, True, None, {}),
    ("s2", 130, True, None, True, None, "cA", 3, False, "exact:duplicate", {}),
    ("s3", 140, True, None, False, "dup_line_frac", "cA", 3, False, "exact:duplicate", {}),
    ("s4", 10, False, "too_few_words", True, None, "c4", 1, True, None, {}),
    ("s5", 5, False, "too_few_words", False, "top_2gram", "c5", 1, True, None, {}),
    ("s6", 1_000_000, False, "too_many_words", True, None, "c6", 1, True, None, {}),
    ("s7", None, None, None, None, None, "c7", 1, True, None, {"txt_extract": "bad charset", "txt_length": "no text"}),
]


def _rows(run_id: str, prefix: str = "") -> list[tuple]:  # type: ignore[type-arg]
    return [(prefix + r[0], f"text of {prefix}{r[0]}", *r[1:], run_id) for r in ROWS]


def _snapshot(spark: SparkSession, table: str) -> int:
    return int(spark.sql(f"SELECT snapshot_id FROM {table}.snapshots ORDER BY committed_at DESC LIMIT 1").first()[0])


@pytest.fixture(scope="module")
def metrics(spark: SparkSession) -> RunMetrics:
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{NS}")
    table = f"lake.{NS}.signals_text"
    spark.sql(f"DROP TABLE IF EXISTS {table}")
    spark.sql(f"DROP TABLE IF EXISTS lake.{NS}.samples")
    spark.createDataFrame(_rows("r1") + _rows("r0", "old-"), SIGNALS).writeTo(table).using("iceberg").create()
    pinned = _snapshot(spark, table)
    spark.createDataFrame(_rows("r1", "late-"), SIGNALS).writeTo(table).append()  # after the run: must not count
    samples = spark.createDataFrame(
        [(f"s{i}", f"raw {i}", None, None, "r1", "boom" if i == 7 else None) for i in range(8)],
        "sample_id string, text string, caption string, image binary, ingest_run_id string, ingest_error string",
    )
    samples.writeTo(f"lake.{NS}.samples").using("iceberg").create()
    result = RunResult(
        "r1",
        "fineweb",
        NS,
        "lake",
        [
            StageResult("ingest", f"lake.{NS}.samples", 8, 8, 1, 1.0, _snapshot(spark, f"lake.{NS}.samples")),
            StageResult("text", table, 8, 8, 1, 2.0, pinned),
        ],
    )
    result.stages[1].op_seconds = {"txt_length": 0.5}  # type: ignore[attr-defined]
    loaded = LoadedRecipe(recipe=recipes.validate(RAW), text="job: fineweb\n", sha256="0" * 64)
    return collect_metrics(spark, result, loaded)


def test_funnel_and_reasons(metrics: RunMetrics) -> None:
    ops = {o.name: o for o in metrics.operators}
    assert (metrics.funnel_rows, metrics.filtered_rows, metrics.kept_rows) == (8, 3, 2)  # 3 pass the filters, dedup removes 1
    length, rep, dedup = ops["txt_length"], ops["txt_gopher_repetition"], ops["dedup"]
    assert (length.rows, length.passed, length.rejected, length.undecided) == (8, 4, 4, 1)  # undecided is not kept
    assert (length.funnel_in, length.funnel_out) == (8, 4)
    assert length.pass_rate == 0.5
    assert [(r.reason, r.count) for r in length.reasons] == [("too_few_words", 2), ("too_many_words", 1)]
    assert (rep.passed, rep.rejected, rep.undecided, rep.funnel_in, rep.funnel_out) == (5, 3, 1, 4, 3)
    assert [(r.reason, r.count) for r in rep.reasons] == [("dup_line_frac", 1), ("top_2gram", 1)]
    assert (dedup.passed, dedup.rejected, dedup.funnel_in, dedup.funnel_out) == (6, 2, 3, 2)
    assert [(r.reason, r.count) for r in dedup.reasons] == [("exact:duplicate", 2)]
    extract = ops["txt_extract"]
    # txt_extract is a filter (no_text, unsupported_mime); this hand-made table has no column of it
    assert extract.is_filter and extract.passed is None and (extract.funnel_in, extract.funnel_out) == (8, 8)
    assert length.seconds == 0.5 and length.rows_per_s == 16 and extract.seconds is None


def test_every_dedup_step_counts_in_the_funnel(spark: SparkSession, metrics: RunMetrics) -> None:
    """RefinedWeb has three dedup steps: kept rows are the rows every step keeps, not the first."""
    dup = "sample_id string, dup_cluster_id string, dup_cluster_size int, dup_keep boolean, dup_reason string, run_id string"
    tables = {"dedup_url": {"s4"}, "dedup_text_exact": {"s1"}}  # rows each step drops
    stages = [StageResult("text", f"lake.{NS}.signals_text", 8, 8, 1, 2.0, None)]
    for name, dropped in tables.items():
        full = f"lake.{NS}.{name}"
        spark.sql(f"DROP TABLE IF EXISTS {full}")
        rows = [(f"s{i}", f"c{i}", 1, f"s{i}" not in dropped, "url:duplicate" if f"s{i}" in dropped else None, "r1") for i in range(8)]
        spark.createDataFrame(rows, dup).writeTo(full).using("iceberg").create()
        stages.append(StageResult(name, full, 8, 8, 0, 1.0, _snapshot(spark, full)))
    stages[0].snapshot_id = metrics.snapshot_ids()["text"]
    loaded = LoadedRecipe(recipe=recipes.validate(RAW), text="", sha256="0" * 64)
    m = collect_metrics(spark, RunResult("r1", "fineweb", NS, "lake", stages), loaded)
    ops = {o.name: o for o in m.operators}
    # s0 and s1 pass both filters and the in-table dup flag; dedup_text_exact drops s1
    assert (m.funnel_rows, m.filtered_rows, m.kept_rows) == (8, 3, 1)
    assert (ops["dedup_url"].rejected, ops["dedup_url"].funnel_in, ops["dedup_url"].funnel_out) == (1, 2, 2)
    assert (ops["dedup_text_exact"].rejected, ops["dedup_text_exact"].funnel_in, ops["dedup_text_exact"].funnel_out) == (1, 2, 1)
    assert [o.name for o in m.operators][-3:] == ["dedup", "dedup_url", "dedup_text_exact"]


def test_errors_per_operator(metrics: RunMetrics) -> None:
    errs = {(e.stage, e.op): e for e in metrics.errors}
    assert errs[("text", "txt_extract")].count == 1
    assert errs[("text", "txt_extract")].top[0].message == "bad charset"
    assert errs[("text", "txt_length")].count == 1
    assert errs[("ingest", "ingest")].count == 1
    assert {o.name: o.errors for o in metrics.operators}["txt_extract"] == 1


def test_histograms_binned_in_spark(metrics: RunMetrics) -> None:
    hists = {h.column: h for h in metrics.histograms}
    assert "txt_length_words" in hists and "dup_cluster_size" in hists and "dup_cluster_id" not in hists
    words = hists["txt_length_words"]
    assert (words.count, words.nulls, words.minimum, words.maximum) == (7, 1, 5.0, 1_000_000.0)
    assert len(words.counts) == HIST_BINS and len(words.edges) == HIST_BINS + 1
    assert words.counts[0] == 6 and words.counts[-1] == 1 and sum(words.counts) == 7
    assert words.p50 == 120.0
    size = hists["dup_cluster_size"]
    assert (size.counts[0], size.counts[-1], sum(size.counts)) == (5, 3, 8)
    assert metrics.video is None  # a text run has no video tables: no video section


def test_text_samples_per_reason(metrics: RunMetrics) -> None:
    by_label: dict[str, list[str]] = {}
    for t in metrics.text_samples:
        by_label.setdefault(t.label, []).append(t.sample_id)
        assert t.snippet == f"text of {t.sample_id}"
    assert by_label == {
        "kept": ["s0", "s1"],
        "dedup: exact:duplicate": ["s2"],
        "txt_gopher_repetition: dup_line_frac": ["s3"],
        "txt_length: too_few_words": ["s4", "s5"],
        "txt_length: too_many_words": ["s6"],
        "txt_length: undecided (error)": ["s7"],
    }
    assert metrics.thumb_groups == ()


def test_duplicate_clusters_side_by_side(metrics: RunMetrics) -> None:
    assert metrics.has_dedup
    (cluster,) = metrics.dup_clusters
    assert (cluster.cluster_id, cluster.size) == ("cA", 3)
    assert [(m.sample_id, m.keep, m.reason) for m in cluster.members] == [("s1", True, ""), ("s2", False, "exact:duplicate"), ("s3", False, "exact:duplicate")]
    assert cluster.members[0].thumb.caption == "text of s1"


def test_far_outliers_clip_the_bins_to_p1_p99(spark: SparkSession) -> None:
    from spark_mm.report.metrics import MetricsCollector

    loaded = LoadedRecipe(recipe=recipes.validate(RAW), text="", sha256="0" * 64)
    collector = MetricsCollector(spark, RunResult("r", "fineweb", NS, "lake"), loaded)
    frame = spark.range(200).selectExpr("CAST(id AS double) AS score", "id AS row_id").union(spark.createDataFrame([(1e9, 200)], "score double, row_id long"))
    (h,) = collector.histograms("s", frame)  # row_id is an id: no histogram
    assert h.clipped and (h.minimum, h.maximum, h.count) == (0.0, 1e9, 201)
    assert 0 < h.edges[0] < 5 and 190 < h.edges[-1] < 200
    assert sum(h.counts) == 201 and h.counts[-1] >= 2 and min(h.counts) > 0
    (plain,) = collector.histograms("s", spark.range(100).selectExpr("CAST(id AS double) AS score"))
    assert not plain.clipped and plain.edges[0] == 0.0 and plain.edges[-1] == 99.0 and plain.counts == (5,) * 20
