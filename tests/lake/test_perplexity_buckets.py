"""CCNet's perplexity buckets: Spark's per-language cutoffs against numpy percentiles, the bucket rule
against CCNet's, CCNet's cutoff.csv format, and Dolma's CCNet-tagged documents (shared data)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession

from spark_mm.errors import ConfigError
from spark_mm.lake.perplexity_buckets import (
    Bucket,
    Cutoffs,
    assign_buckets,
    bucket_of,
    corpus_cutoffs,
    cutoffs_frame,
    read_ccnet_cutoffs,
)

# CCNet's English cutoffs: cc_net/data/cutoff.csv, column en, rows 30 and 60.
CCNET_EN = Cutoffs(340.0, 520.0)


def _corpus(seed: int = 0) -> list[tuple[str, str | None, float | None]]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str | None, float | None]] = []
    for lang, n, mu in (("en", 1200, 5.8), ("fr", 333, 5.2), ("is", 7, 6.5)):
        pp = np.round(rng.lognormal(mu, 0.6, n), 1)  # one decimal, as stored: ties happen
        rows += [(f"{lang}{i}", lang, float(p)) for i, p in enumerate(pp)]
    rows += [("nolang", None, 300.0), ("nopp", "en", None), ("nopp2", "fr", None)]
    return rows


def test_corpus_cutoffs_match_numpy_percentiles(spark: SparkSession) -> None:
    rows = _corpus()
    frame = spark.createDataFrame(rows, "sample_id string, txt_lang string, txt_perplexity double")
    got = {r["lang"]: r for r in corpus_cutoffs(frame).collect()}
    assert set(got) == {"en", "fr", "is"}  # a row without a language is not a language
    for lang, r in got.items():
        values = np.array([p for _, lg, p in rows if lg == lang and p is not None])
        assert r["docs"] == len(values)
        want = np.percentile(values, [30, 60], method="inverted_cdf")
        assert (r["head_cutoff"], r["tail_cutoff"]) == (want[0], want[1]), lang
        # CCNet's intent: about 30 % strictly below the head cutoff, 60 % below the tail cutoff
        if len(values) > 100:
            assert abs((values < want[0]).mean() - 0.30) < 0.01 and abs((values < want[1]).mean() - 0.60) < 0.01


def test_assign_buckets_is_ccnets_rule_row_by_row(spark: SparkSession) -> None:
    rows = _corpus(1)
    frame = spark.createDataFrame(rows, "sample_id string, txt_lang string, txt_perplexity double")
    cut = corpus_cutoffs(frame)
    table = {r["lang"]: Cutoffs(r["head_cutoff"], r["tail_cutoff"]) for r in cut.collect()}
    out = assign_buckets(frame, cut.where("lang != 'is'")).collect()  # Icelandic: no cutoffs
    assert len(out) == len(rows) and {r["sample_id"] for r in out} == {r[0] for r in rows}
    for r in out:
        cutoffs = table.get(r["txt_lang"]) if r["txt_lang"] != "is" else None
        assert r["txt_perplexity_bucket"] == bucket_of(r["txt_perplexity"], cutoffs).value, r
    by = {b.value: sum(r["txt_perplexity_bucket"] == b.value for r in out) for b in Bucket}
    assert by["all"] == 7 + 3 and min(by["head"], by["middle"], by["tail"]) > 0


def test_fixed_cutoff_table(spark: SparkSession, tmp_path: Path) -> None:
    csv = tmp_path / "cutoff.csv"
    pct = np.arange(101)
    csv.write_text(",de,en\n" + "".join(f"{p},{100 + p},{10 * p}\n" for p in pct))
    table = read_ccnet_cutoffs(csv)
    assert table == {"de": Cutoffs(130.0, 160.0), "en": Cutoffs(300.0, 600.0)}
    assert read_ccnet_cutoffs(csv, 10, 90)["en"] == Cutoffs(100.0, 900.0)
    frame = spark.createDataFrame([("a", "en", 299.9), ("b", "en", 300.0), ("c", "en", 600.0), ("d", "de", 1.0), ("e", "xx", 1.0)],
                                  "sample_id string, txt_lang string, txt_perplexity double")  # fmt: skip
    out = {r["sample_id"]: r["txt_perplexity_bucket"] for r in assign_buckets(frame, cutoffs_frame(spark, table)).collect()}
    assert out == {"a": "head", "b": "middle", "c": "tail", "d": "head", "e": "all"}


def test_bad_cutoff_files_fail_naming_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_ccnet_cutoffs(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("lang,head,tail\nen,1,2\n")
    with pytest.raises(ConfigError, match="layout"):
        read_ccnet_cutoffs(bad)
    short = tmp_path / "short.csv"
    short.write_text(",en\n0,1\n30,2\n")
    with pytest.raises(ConfigError, match="percentile 60"):
        read_ccnet_cutoffs(short)
    with pytest.raises(ConfigError, match="head <= tail"):
        Cutoffs(5.0, 1.0)


def _dolma_docs(shared_data: Path) -> list[dict[str, object]]:
    files = sorted((shared_data / "text").glob("dolma_cc_en_head-*.jsonl.gz"))
    if not files:
        pytest.skip("no dolma_cc_en_head-*.jsonl.gz in the shared data")
    from spark_mm.sources.jsonl_records import iter_jsonl_records

    docs = []
    for f in files:
        for row in iter_jsonl_records(str(f), text_column="text", id_column="id", url_column=None):
            meta = json.loads(row["record_meta"]["metadata"])
            docs.append({"sample_id": row["source_record_id"], "txt_lang": meta["language"],
                         "txt_perplexity": meta["perplexity"], "bucket": meta["bucket"], "text": row["text"]})  # fmt: skip
    lines = 0
    for f in files:
        with gzip.open(f, "rt") as fh:
            lines += sum(1 for line in fh if line.strip())
    assert len(docs) == lines  # every line read
    return docs


@pytest.mark.shared_data
def test_dolma_ccnet_buckets_follow_ccnets_rule(spark: SparkSession, shared_data: Path) -> None:
    """Dolma's CC documents carry CCNet's perplexity and bucket; CCNet's English cutoffs give them back."""
    docs = _dolma_docs(shared_data)
    assert len(docs) == 20 and {d["txt_lang"] for d in docs} == {"en"}
    assert all(bucket_of(d["txt_perplexity"], CCNET_EN).value == d["bucket"] for d in docs)  # type: ignore[arg-type]
    frame = spark.createDataFrame([(d["sample_id"], d["txt_lang"], d["txt_perplexity"]) for d in docs],
                                  "sample_id string, txt_lang string, txt_perplexity double")  # fmt: skip
    out = {r["sample_id"]: r["txt_perplexity_bucket"] for r in assign_buckets(frame, cutoffs_frame(spark, {"en": CCNET_EN})).collect()}
    assert out == {d["sample_id"]: d["bucket"] for d in docs}
    # the corpus rule on this sample (all CCNet "head" docs) still splits it 30/30/40
    (row,) = corpus_cutoffs(frame).collect()
    values = np.array([d["txt_perplexity"] for d in docs], dtype=float)
    assert (row["head_cutoff"], row["tail_cutoff"]) == tuple(np.percentile(values, [30, 60], method="inverted_cdf"))
