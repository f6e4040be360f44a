"""``analyze`` and ``suggest`` on hand-made signal tables with known distributions, against numpy.

One module-scoped fixture writes two signals tables (an image stage and a text stage, the same
sample ids), analyses both and runs the k-sigma suggestion once; the tests assert on that.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from spark_mm import recipe as recipes
from spark_mm.lake import analysis
from spark_mm.lake.settings import LakeSettings
from spark_mm.lake.tables import Lake
from spark_mm.recipe_tuning import Suggestion, suggest, write_overrides
from spark_mm.report.html import render_analysis

NS = "analyze_t"
N = 2000
K = 2.0
LAKE = LakeSettings(buckets=4)


def _data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    width = np.round(rng.normal(400, 80, N)).clip(1)
    height = np.round(rng.normal(350, 60, N)).clip(1)
    width[::50] = np.nan  # 40 rows without a width: null signal, dropped by the filter
    return {
        "width": width,
        "height": height,
        "entropy": rng.uniform(2.0, 8.0, N),
        "words": np.round(rng.normal(300, 50, N)).clip(0),
        "lang": rng.normal(0.85, 0.05, N).clip(0, 1).astype(np.float32).astype(np.float64),
    }


def _recipe(tmp: Path) -> dict[str, Any]:
    return {
        "job": "analyze_t",
        "namespace": NS,
        "source": {"type": "parquet", "path": str(tmp / "none.parquet"), "image_column": "image", "text_column": "text"},
        "lake": {"buckets": 4},
        "stages": [
            {"name": "img", "ops": [
                {"op": "img_meta"},
                {"op": "img_signals"},
                {"op": "img_quality_filter", "min_side_px": 200, "max_aspect_ratio": 3.0},
            ]},
            {"name": "txt", "ops": [
                {"op": "txt_lang", "text_column": "text"},  # strict: keeps score > min_score
                {"op": "txt_length", "text_column": "text", "min_words": 50, "max_words": 100000},
                {"op": "txt_c4", "text_column": "text"},  # min_num_sentences: stored signal, but not in our table: skipped with a note
            ]},
        ],
    }


@pytest.fixture(scope="module")
def run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("analysis")
    d = _data()
    ids = [f"{i:032x}" for i in range(N)]
    tables = Lake(spark, LAKE, NS)
    tables.ensure_namespace()
    img_schema = T.StructType([
        T.StructField("sample_id", T.StringType()), T.StructField("img_width", T.IntegerType()),
        T.StructField("img_height", T.IntegerType()), T.StructField("img_entropy_bits", T.FloatType()),
        T.StructField("img_phash", T.LongType()),
    ])
    img_rows = [
        (ids[i], None if math.isnan(d["width"][i]) else int(d["width"][i]), int(d["height"][i]), float(d["entropy"][i]), i)
        for i in range(N)
    ]
    txt_schema = T.StructType([
        T.StructField("sample_id", T.StringType()), T.StructField("txt_length_words", T.IntegerType()),
        T.StructField("txt_lang_score", T.FloatType()),
    ])
    txt_rows = [(ids[i], int(d["words"][i]), float(d["lang"][i])) for i in range(N)]
    for name, schema, rows in (("signals_img", img_schema, img_rows), ("signals_txt", txt_schema, txt_rows)):
        tables.ensure_table(name, schema)
        spark.createDataFrame(rows, schema).writeTo(tables.table(name)).append()
    img = analysis.analyze(spark, LAKE, f"{NS}.signals_img", "ana_img")
    txt = analysis.analyze(spark, LAKE, f"{NS}.signals_txt", "ana_txt", columns=["txt_length_words", "txt_lang_score"])
    loaded = recipes.from_mapping(_recipe(tmp))
    s = suggest(spark, loaded, K)
    recipe_file = tmp / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(_recipe(tmp), sort_keys=False))
    out = write_overrides(s, tmp / "recipe.k2.yaml", str(recipe_file))
    return {"data": d, "img": img, "txt": txt, "suggestion": s, "overrides": out, "recipe_file": recipe_file, "tables": tables,
            "stored_img": analysis.latest(spark, LAKE, f"{NS}.signals_img")}


def _check_quantile(values: np.ndarray, prob: float, got: float) -> None:
    """percentile_approx returns a value whose rank is within rows / ACCURACY of prob * rows."""
    n = len(values)
    slack = n / analysis.ACCURACY + 1
    assert np.sum(values < got) <= prob * n + slack, (prob, got)
    assert np.sum(values <= got) >= prob * n - slack, (prob, got)


def test_analyze_matches_numpy(run: dict[str, Any]) -> None:
    d, img = run["data"], run["img"]
    short = np.fmin(d["width"], d["height"])
    short[np.isnan(d["width"])] = np.nan
    expected = {
        "img_width": d["width"], "img_height": d["height"], "img_entropy_bits": d["entropy"].astype(np.float32).astype(np.float64),
        "img_short_side_px": short,
    }
    assert "img_phash" not in img.columns  # a hash, not a measurement
    assert img.columns["img_short_side_px"].signal_sql is not None and img.columns["img_width"].signal_sql is None
    for col, raw in expected.items():
        values = raw[~np.isnan(raw)]
        h = img.columns[col].histogram
        assert (h.count, h.nulls) == (len(values), N - len(values)), col
        assert h.mean == pytest.approx(values.mean(), rel=1e-12, abs=1e-12), col
        assert h.std == pytest.approx(values.std(ddof=1), rel=1e-9), col  # pandas describe's (sample) std
        assert (h.minimum, h.maximum) == (values.min(), values.max()), col
        assert sum(h.counts) == len(values) and len(h.edges) == len(h.counts) + 1, col
        for prob, got in [*h.quantiles, (0.05, h.p05), (0.5, h.p50), (0.95, h.p95)]:
            _check_quantile(values, prob, got)
    assert sorted(run["txt"].columns) == ["txt_lang_score", "txt_length_words"]  # --columns restricts


def test_analysis_table_holds_snapshot_and_round_trips(run: dict[str, Any]) -> None:
    img, stored, tables = run["img"], run["stored_img"], run["tables"]
    assert img.snapshot_id == tables.current_snapshot_id("signals_img")
    assert stored is not None and stored.snapshot_id == img.snapshot_id and stored.run_id == "ana_img"
    for col, c in img.columns.items():
        s = stored.columns[col].histogram
        assert (s.count, s.nulls, s.mean, s.std, s.counts, s.edges) == (c.histogram.count, c.histogram.nulls, c.histogram.mean, c.histogram.std, c.histogram.counts, c.histogram.edges)
        assert dict(s.quantiles) == dict(c.histogram.quantiles)
    page = render_analysis(img.table, img.snapshot_id, img.run_id, [c.histogram for c in stored.columns.values()])
    assert page.count("<svg") == len(img.columns) and "img_short_side_px" in page and str(img.snapshot_id) in page


def test_k_sigma_thresholds_match_numpy(run: dict[str, Any]) -> None:
    d, s = run["data"], run["suggestion"]
    assert isinstance(s, Suggestion) and s.rows == N
    by_key = {p.key: p for p in s.proposals}
    valid = ~np.isnan(d["width"])
    w, h = d["width"][valid], d["height"][valid]
    short, aspect = np.minimum(w, h), np.maximum(w, h) / np.maximum(np.minimum(w, h), 1)
    words, lang = d["words"], d["lang"]
    expect = {
        "stages.0.ops.2.min_side_px": math.ceil(short.mean() - K * short.std(ddof=1)),
        "stages.0.ops.2.max_aspect_ratio": aspect.mean() + K * aspect.std(ddof=1),
        "stages.1.ops.1.min_words": math.ceil(words.mean() - K * words.std(ddof=1)),
        "stages.1.ops.1.max_words": math.floor(words.mean() + K * words.std(ddof=1)),
        "stages.1.ops.0.min_score": min(max(lang.mean() - K * lang.std(ddof=1), 0.0), 1.0),
    }
    assert set(by_key) == set(expect), by_key.keys()
    for key, value in expect.items():
        assert by_key[key].proposed == pytest.approx(value, rel=1e-9), key
    assert isinstance(by_key["stages.0.ops.2.min_side_px"].proposed, int)
    # expected keep rates, counted with numpy over all N rows (a null width keeps nothing)
    keep_short = np.zeros(N, bool)
    keep_aspect = np.zeros(N, bool)
    keep_short[valid] = short >= expect["stages.0.ops.2.min_side_px"]
    keep_aspect[valid] = aspect <= by_key["stages.0.ops.2.max_aspect_ratio"].proposed
    keep_words = (words >= expect["stages.1.ops.1.min_words"]) & (words <= expect["stages.1.ops.1.max_words"])
    keep_lang = lang > by_key["stages.1.ops.0.min_score"].proposed
    assert by_key["stages.1.ops.0.min_score"].keep_rate == pytest.approx(keep_lang.mean())
    assert by_key["stages.1.ops.0.min_score"].current_keep_rate == pytest.approx((lang > 0.65).mean())
    assert by_key["stages.0.ops.2.min_side_px"].keep_rate == pytest.approx(keep_short.mean())
    assert by_key["stages.0.ops.2.max_aspect_ratio"].keep_rate == pytest.approx(keep_aspect.mean())
    assert s.filter_keep_rates["stages.0.ops.2 (img_quality_filter)"] == pytest.approx((keep_short & keep_aspect).mean())
    assert s.filter_keep_rates["stages.1.ops.1 (txt_length)"] == pytest.approx(keep_words.mean())
    assert s.total_keep_rate == pytest.approx((keep_short & keep_aspect & keep_words & keep_lang).mean())
    # the recipe's current values are counted too (min_side_px=200)
    now = np.zeros(N, bool)
    now[valid] = short >= 200
    assert by_key["stages.0.ops.2.min_side_px"].current_keep_rate == pytest.approx(now.mean())
    assert any("txt_c4_sentences" in n for n in s.notes)  # declared but not analysed here: said, not guessed


def test_override_file_round_trips_through_set_file(run: dict[str, Any]) -> None:
    from spark_mm.cli import _parser, run_overrides

    s, out = run["suggestion"], run["overrides"]
    args = _parser().parse_args(["run", str(run["recipe_file"]), "--set-file", str(out), "--set", "stages.1.ops.1.max_words=9999"])
    loaded = recipes.load(args.recipe_path, run_overrides(args))  # what cmd_run validates before Spark starts
    ops = loaded.recipe.stages
    assert ops[0].ops[2].min_side_px == s.overrides["stages.0.ops.2.min_side_px"]
    assert ops[0].ops[2].max_aspect_ratio == pytest.approx(s.overrides["stages.0.ops.2.max_aspect_ratio"])
    assert ops[1].ops[1].min_words == s.overrides["stages.1.ops.1.min_words"]
    assert ops[1].ops[0].min_score == pytest.approx(s.overrides["stages.1.ops.0.min_score"])
    assert ops[1].ops[1].max_words == 9999  # --set after --set-file wins
    assert "analysis run ana_img" in out.read_text()
