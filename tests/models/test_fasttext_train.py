"""``spark-mm train-fasttext``: a fastText classifier from two queries over Iceberg tables, with lineage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

fasttext = pytest.importorskip("fasttext")
if not hasattr(fasttext, "train_supervised"):
    pytest.skip("predict-only fasttext installed (fasttext-predict); training needs spark-mm[train]", allow_module_level=True)

from spark_mm import cli  # noqa: E402
from spark_mm.errors import ConfigError  # noqa: E402
from spark_mm.lake.pinning import pin_query  # noqa: E402
from spark_mm.models.fasttext_table import lineage_path  # noqa: E402
from spark_mm.models.fasttext_train import FasttextHyperparams, write_split  # noqa: E402
from spark_mm.ops.model_fasttext import TxtFasttextQuality, TxtFasttextQualityParams  # noqa: E402

NS = "ftq"
HQ_WORDS = "theorem proof lemma corollary axiom derivation integral manifold eigenvalue topology".split()
CC_WORDS = "click buy now cheap deal casino bonus subscribe offer discount".split()


def _texts(rng: np.random.Generator, words: list[str], n: int) -> list[str]:
    # several lines per text: training must join them with spaces, as scoring does
    return [" ".join(rng.choice(words, 6)) + "\n" + " ".join(rng.choice(words, 6)) for _ in range(n)]


def _current(spark: SparkSession, table: str) -> int:
    return int(spark.sql(f"SELECT snapshot_id FROM {table}.history WHERE is_current_ancestor ORDER BY made_current_at DESC LIMIT 1").first()[0])


@pytest.fixture(scope="module")
def tables(spark: SparkSession) -> dict[str, int]:
    rng = np.random.default_rng(0)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{NS}")
    hq = [(f"h{i}", t) for i, t in enumerate(_texts(rng, HQ_WORDS, 100))] + [("h-null", None), ("h-blank", " \n ")]
    spark.createDataFrame(hq, "sample_id string, txt_content string").writeTo(f"lake.{NS}.hq").createOrReplace()
    cc = [(f"c{i}", t) for i, t in enumerate(_texts(rng, CC_WORDS, 100))]
    spark.createDataFrame(cc[:50], "sample_id string, txt_content string").writeTo(f"lake.{NS}.cc").createOrReplace()
    spark.createDataFrame(cc[50:], "sample_id string, txt_content string").writeTo(f"lake.{NS}.cc").append()  # two snapshots
    return {t: _current(spark, f"lake.{NS}.{t}") for t in ("hq", "cc")}


def _score(model: Path, texts: list[str]) -> list[float]:
    op = TxtFasttextQuality(TxtFasttextQualityParams(weights={"path": str(model)}))  # type: ignore[arg-type]
    return op.transform(pa.record_batch({"txt_content": pa.array(texts, pa.string())})).columns.column("txt_fasttext_quality").to_pylist()


def test_trains_from_two_queries_with_lineage_and_scores_unchanged(spark: SparkSession, tables: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "quality.bin"
    neg_file = tmp_path / "negatives.sql"
    neg_file.write_text(f"SELECT sample_id, txt_content FROM {NS}.cc WHERE sample_id <> 'c0'")
    argv = [
        "train-fasttext", "--positive", f"SELECT txt_content FROM lake.{NS}.hq", "--negative", str(neg_file), "--out", str(out),
        "--val-fraction", "0.2", "--param", "thread=1", "--param", "epoch=25", "--param", "dim=16",
    ]
    assert cli.main(argv) == 0
    lineage = json.loads(lineage_path(out).read_text())
    hq, cc = lineage["labels"]["__label__hq"], lineage["labels"]["__label__cc"]
    assert hq["tables"] == [{"table": f"lake.{NS}.hq", "snapshot_id": tables["hq"], "pinned_by_query": False}]
    assert cc["tables"] == [{"table": f"lake.{NS}.cc", "snapshot_id": tables["cc"], "pinned_by_query": False}]
    assert f"VERSION AS OF {tables['cc']}" in cc["pinned_query"] and cc["query"] == neg_file.read_text()
    assert hq["counts"]["rows"] == 102 and hq["counts"]["blank"] == 2 and cc["counts"]["rows"] == 99
    for c in (hq["counts"], cc["counts"]):
        assert c["train"] + c["val"] + c["blank"] == c["rows"] and 0 < c["val"] < c["train"]
    val = lineage["validation"]
    assert val["n"] == hq["counts"]["val"] + cc["counts"]["val"]
    assert val["accuracy"] >= 0.95 and val["precision"] >= 0.9 and val["recall"] >= 0.9
    assert lineage["hyperparameters"]["word_ngrams"] == 2 and lineage["hyperparameters"]["epoch"] == 25
    assert lineage["model_sha256"] and lineage["split"]["seed"] == 42
    # the trained file scores with txt_fasttext_quality unchanged: held-out texts, multi-line
    rng = np.random.default_rng(7)
    good, bad = _texts(rng, HQ_WORDS, 1)[0], _texts(rng, CC_WORDS, 1)[0]
    s_good, s_bad = _score(out, [good, bad])
    assert s_good > 0.5 > s_bad


def test_pinning_sees_every_table_and_keeps_user_time_travel(spark: SparkSession, tables: dict[str, int]) -> None:
    first_cc = int(spark.sql(f"SELECT snapshot_id FROM lake.{NS}.cc.snapshots ORDER BY committed_at LIMIT 1").first()[0])
    q = f"SELECT txt_content FROM `{NS}`.hq UNION ALL SELECT txt_content FROM lake.{NS}.cc VERSION AS OF {first_cc}"
    p = pin_query(spark, q)
    assert [(t.table, t.snapshot_id, t.pinned_by_query) for t in p.tables] == [
        (f"lake.{NS}.cc", first_cc, True), (f"lake.{NS}.hq", tables["hq"], False),
    ]
    assert spark.sql(p.pinned).count() == 102 + 50
    spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW ftq_hq_view AS SELECT * FROM lake.{NS}.hq")
    with pytest.raises(ConfigError, match="could not pin"):
        pin_query(spark, "SELECT txt_content FROM ftq_hq_view")
    with pytest.raises(ConfigError, match="reads no Iceberg table"):
        pin_query(spark, "SELECT 'a' AS txt_content")


def test_split_is_seeded_by_text_not_by_order(tmp_path: Path) -> None:
    texts = [f"word{i} other{i % 7}\nline two {i}" for i in range(300)]
    a = write_split([("__label__hq", texts), ("__label__cc", ["x y", None, ""])], tmp_path / "a", val_fraction=0.3, seed=1)
    b = write_split([("__label__hq", texts[::-1]), ("__label__cc", ["", "x y", None])], tmp_path / "b", val_fraction=0.3, seed=1)
    # training order is the seeded hash (input order does not matter); validation is the same set
    assert a.train.read_text() == b.train.read_text() and sorted(a.val.read_text().splitlines()) == sorted(b.val.read_text().splitlines())
    assert a.counts["__label__cc"].blank == 2 and 60 < a.counts["__label__hq"].val < 120
    assert "\n" not in a.train.read_text().splitlines()[0] and a.train.read_text().splitlines()[0].count("__label__") == 1
    c = write_split([("__label__hq", texts)], tmp_path / "c", val_fraction=0.3, seed=2)
    assert sorted(c.val.read_text().splitlines()) != sorted(a.val.read_text().splitlines())
    with pytest.raises(ConfigError, match="val_fraction"):
        write_split([], tmp_path / "d", val_fraction=1.0, seed=0)
    assert FasttextHyperparams().train_supervised_kwargs() == {
        "lr": 0.1, "dim": 100, "ws": 5, "epoch": 5, "minCount": 1, "minCountLabel": 0, "wordNgrams": 2, "minn": 0, "maxn": 0,
        "neg": 5, "loss": "softmax", "bucket": 2_000_000, "lrUpdateRate": 100, "t": 1e-4, "seed": 0,
    }
