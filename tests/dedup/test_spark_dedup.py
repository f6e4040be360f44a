"""Spark dedup on plain DataFrames: components, LSH clusters, pHash, keep policies, history."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_mm import _native
from spark_mm.dedup import (
    DEDUP_KEYS_SCHEMA,
    ComponentsDidNotConverge,
    KeepPolicy,
    combine_signals,
    connected_components,
    exact_dedup,
    explode_keys,
    history_rows,
    merge_keys_df,
    minhash_dedup,
    phash_band_columns,
    phash_dedup,
    star_edges,
    url_dedup,
)
from spark_mm.dedup.history import key_to_binary
from spark_mm.dedup.steps import MinhashScheme
from spark_mm.ops.dedup_keys import UrlKey, UrlKeyParams
from spark_mm.ops.dedup_minhash import TxtMinhash, TxtMinhashParams
from pyspark.sql import types as T
from tests.dedup.conftest import chain_corpus, mutate, random_doc, shingle_jaccard, sid


def components_of(spark: SparkSession, edges: list[tuple[str, str]], **kw: int) -> dict[str, str]:
    df = spark.createDataFrame(edges, "src string, dst string")
    return {r["node"]: r["component"] for r in connected_components(df, **kw).collect()}


def test_components_chain_star_and_separate_graphs(spark: SparkSession) -> None:
    chain = [(sid(i), sid(i + 1)) for i in range(120)]
    rng = random.Random(1)
    rng.shuffle(chain)
    star = [(sid(1000), sid(1000 + i)) for i in range(1, 50)]
    pair = [(sid(2001), sid(2000))]
    labels = components_of(spark, chain + star + pair)
    assert len(labels) == 121 + 50 + 2
    assert {labels[sid(i)] for i in range(121)} == {sid(0)}
    assert {labels[sid(1000 + i)] for i in range(50)} == {sid(1000)}
    assert labels[sid(2001)] == labels[sid(2000)] == sid(2000)


def test_components_iteration_bound(spark: SparkSession) -> None:
    chain = [(sid(i), sid(i + 1)) for i in range(64)]
    with pytest.raises(ComponentsDidNotConverge):
        components_of(spark, chain, max_iterations=1)


def test_giant_bucket_is_a_star_not_all_pairs(spark: SparkSession) -> None:
    n = 1500
    df = spark.createDataFrame([(sid(i), [7, i + 100]) for i in range(n)], "sample_id string, bands array<bigint>")
    edges = star_edges(explode_keys(df, key_col="bands"))
    assert edges.count() == n - 1
    labels = {r["node"]: r["component"] for r in connected_components(edges).collect()}
    assert set(labels.values()) == {sid(0)} and len(labels) == n


def minhash_frame(spark: SparkSession, texts: list[str], ids: list[str], extra: dict[str, list[float]] | None = None, **params: int) -> DataFrame:
    op = TxtMinhash(TxtMinhashParams(**params))
    batch = pa.record_batch({"text": texts})
    cols = op.apply(batch).columns
    table = pa.table({"sample_id": ids, **{n: cols.column(n) for n in cols.schema.names}, **(extra or {})})
    return spark.createDataFrame(table)


def near_dup_corpus(seed: int, n_clusters: int, per_cluster: int, n_unique: int, start: int = 0) -> tuple[list[str], list[str], dict[str, int]]:
    """Clusters of light edits (Jaccard >~ 0.85 to their seed) plus unrelated documents."""
    rng = random.Random(seed)
    texts, ids, truth = [], [], {}
    i = start
    for c in range(n_clusters):
        base = random_doc(rng, 300)
        for k in range(per_cluster):
            texts.append(" ".join(base if k == 0 else mutate(rng, base, 0.01)))
            ids.append(sid(i))
            truth[sid(i)] = c
            i += 1
    for _ in range(n_unique):
        texts.append(" ".join(random_doc(rng, 300)))
        ids.append(sid(i))
        truth[sid(i)] = -1 - i
        i += 1
    order = list(range(len(ids)))
    rng.shuffle(order)
    return [texts[j] for j in order], [ids[j] for j in order], truth


def test_minhash_dedup_finds_planted_clusters(spark: SparkSession) -> None:
    texts, ids, truth = near_dup_corpus(11, n_clusters=20, per_cluster=5, n_unique=200)
    df = minhash_frame(spark, texts, ids)
    res = minhash_dedup(df)
    rows = {r["sample_id"]: r for r in res.signals.collect()}
    assert len(rows) == len(ids)  # rows in = rows out
    for s, c in truth.items():
        r = rows[s]
        if c >= 0:
            assert r["dup_cluster_size"] == 5
            members = [k for k, v in truth.items() if v == c]
            assert r["dup_cluster_id"] == min(members)
            assert r["dup_keep"] == (s == min(members))
            assert r["dup_reason"] == (None if s == min(members) else "in_run")
        else:
            assert (r["dup_cluster_size"], r["dup_keep"], r["dup_reason"]) == (1, True, None)


def test_jaccard_verification_drops_weak_candidates(spark: SparkSession) -> None:
    rng = random.Random(4)
    base = random_doc(rng, 400)
    weak = mutate(rng, base, 0.05)  # 5-gram Jaccard ~0.6: an LSH candidate now and then
    texts = [" ".join(base), " ".join(mutate(rng, base, 0.005)), " ".join(weak)]
    df = minhash_frame(spark, texts, [sid(1), sid(2), sid(3)])
    # Force the weak pair to be a candidate: share one band key with the others.
    df = df.withColumn("txt_minhash_bands", F.concat("txt_minhash_bands", F.array(F.lit(42).cast("long"))))
    loose = {r["sample_id"]: r["dup_cluster_size"] for r in minhash_dedup(df).signals.collect()}
    assert loose[sid(3)] == 3
    strict = minhash_dedup(df, sig_col="txt_minhash_sig", jaccard_threshold=0.8)
    got = {r["sample_id"]: (r["dup_cluster_id"], r["dup_cluster_size"]) for r in strict.signals.collect()}
    assert got[sid(1)] == got[sid(2)] == (sid(1), 2)
    assert got[sid(3)] == (sid(3), 1)


def test_max_signal_keep_policy(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(sid(1), b"k", 0.2), (sid(2), b"k", 0.9), (sid(3), b"k", None), (sid(4), b"j", 0.1), (sid(5), None, 0.5)],
        "sample_id string, key binary, aesthetic_score double",
    )
    res = exact_dedup(df, key_col="key", policy=KeepPolicy(kind="max_signal", signal_column="aesthetic_score"))
    keep = {r["sample_id"]: (r["dup_keep"], r["dup_reason"]) for r in res.signals.collect()}
    # A null key (input missing or errored) is not "unique, kept": it could not be checked.
    assert keep == {sid(1): (False, "in_run"), sid(2): (True, None), sid(3): (False, "in_run"), sid(4): (True, None), sid(5): (False, "missing_input")}
    with pytest.raises(ValueError):
        KeepPolicy(kind="max_signal")


def test_exact_url_and_combined_signals(spark: SparkSession) -> None:
    texts = ["Hello, world!", "hello world", "another page", "Another page!!", "unique"]
    urls = ["http://a.org/1", "https://a.org/1#top", "http://b.org/", "http://c.org/", "http://d.org/"]
    batch = pa.record_batch({"text": texts, "url": urls})
    t = TxtMinhash(TxtMinhashParams()).apply(batch).columns.column("txt_exact_key")
    u = UrlKey(UrlKeyParams()).apply(batch).columns.column(0)
    df = spark.createDataFrame(pa.table({"sample_id": [sid(i) for i in range(5)], "txt_exact_key": t, "url_key": u}))
    ex = exact_dedup(df, key_col="txt_exact_key")
    ur = url_dedup(df)
    both = {r["sample_id"]: r for r in combine_signals([ex, ur]).collect()}
    assert both[sid(1)]["txt_exact_dup_keep"] is False and both[sid(1)]["url_dup_keep"] is False
    assert both[sid(1)]["dup_reason"] == "txt_exact:in_run"
    assert both[sid(3)]["dup_keep"] is False and both[sid(3)]["url_dup_keep"] is True
    assert [both[sid(i)]["dup_keep"] for i in range(5)] == [True, False, True, False, True]


def test_phash_bands_in_spark_match_the_kernel(spark: SparkSession) -> None:
    rng = random.Random(2)
    hs = [rng.getrandbits(64) - (1 << 63) for _ in range(200)]
    for radius in (0, 1, 4, 7):
        kern = pa.array(_native.phash_band_keys(pa.array(hs, pa.int64()), radius=radius)).to_pylist()
        df = spark.createDataFrame([(h,) for h in hs], "h bigint")
        got = [r[0] for r in df.select(phash_band_columns(F.col("h"), radius)).collect()]
        assert got == kern


def test_phash_dedup_radius_and_identical_hashes(spark: SparkSession) -> None:
    rng = random.Random(9)
    rows, expect = [], {}
    i = 0
    for c in range(30):
        h = rng.getrandbits(64)
        for k in range(4):
            g = h
            for bit in rng.sample(range(64), 2 * k):  # 0,2,4,6 flips; pairs up to 8 apart, chained by h
                g ^= 1 << bit
            rows.append((sid(i), g - (1 << 64) if g >= 1 << 63 else g))
            expect[sid(i)] = (c, k)
            i += 1
    blank = [(sid(1000 + j), 0) for j in range(50)]  # identical hashes: a star, not 50^2 pairs
    df = spark.createDataFrame(rows + blank, "sample_id string, img_phash bigint")
    got = {r["sample_id"]: r for r in phash_dedup(df, radius_bits=4).signals.collect()}
    assert len(got) == len(rows) + len(blank)
    for s, (c, k) in expect.items():
        base = sid(c * 4)
        if k <= 2:  # within 4 bits of the cluster's first hash
            assert got[s]["dup_cluster_id"] == base, (s, c, k)
        else:  # 6 bits from the base: joins only through a member within 4 bits, never another cluster
            assert got[s]["dup_cluster_id"] in (base, s), (s, c, k)
    assert {got[s]["dup_cluster_id"] for s, _ in blank} == {sid(1000)}
    assert got[sid(1000)]["dup_cluster_size"] == 50


def test_two_runs_find_cross_run_duplicates_and_retry_is_idempotent(spark: SparkSession) -> None:
    texts1, ids1, _ = near_dup_corpus(21, n_clusters=5, per_cluster=2, n_unique=40, start=0)
    run1 = minhash_frame(spark, texts1, ids1)
    empty = spark.createDataFrame([], DEDUP_KEYS_SCHEMA)
    r1 = minhash_dedup(run1, history=empty, run_id="run-1")
    hist = merge_keys_df(empty, history_rows(r1.keys, r1.signals, run_id="run-1")).localCheckpoint()
    kept1 = {r["sample_id"] for r in r1.signals.where("dup_keep").collect()}
    assert len(kept1) == 45
    assert hist.select("sample_id").distinct().count() == 45

    # Run 2: 10 copies of kept run-1 documents (new ids, light edits) + 30 new documents.
    rng = random.Random(5)
    by_id = dict(zip(ids1, texts1))
    copies = sorted(kept1)[:10]
    texts2 = [" ".join(mutate(rng, by_id[s].split(), 0.01)) for s in copies]
    ids2 = [sid(5000 + j) for j in range(10)]
    fresh_t, fresh_i, _ = near_dup_corpus(22, n_clusters=0, per_cluster=0, n_unique=30, start=6000)
    run2 = minhash_frame(spark, texts2 + fresh_t, ids2 + fresh_i)

    def run_two(history: DataFrame) -> tuple[dict[str, tuple[bool, str | None]], DataFrame]:
        r2 = minhash_dedup(run2, history=history, run_id="run-2")
        sig = {r["sample_id"]: (r["dup_keep"], r["dup_reason"]) for r in r2.signals.collect()}
        return sig, history_rows(r2.keys, r2.signals, run_id="run-2")

    sig2, rows2 = run_two(hist)
    assert {s for s, (k, _) in sig2.items() if not k} == set(ids2)
    assert all(sig2[s] == (False, "history") for s in ids2)
    assert all(sig2[s] == (True, None) for s in fresh_i)
    hist2 = merge_keys_df(hist, rows2).localCheckpoint()
    n2 = hist2.count()
    assert hist2.select("sample_id").distinct().count() == 45 + 30

    # Retry of run 2 after its keys were merged: same decisions, and the MERGE adds nothing.
    sig2b, rows2b = run_two(hist2)
    assert sig2b == sig2
    assert merge_keys_df(hist2, rows2b).count() == n2
    assert merge_keys_df(merge_keys_df(hist2, rows2b), rows2b).count() == n2


def test_phash_history_is_verified_by_hamming(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], DEDUP_KEYS_SCHEMA)
    h = 0x0123_4567_89AB_CDEF
    run1 = spark.createDataFrame([(sid(1), h)], "sample_id string, img_phash bigint")
    r1 = phash_dedup(run1, history=empty, run_id="r1")
    hist = merge_keys_df(empty, history_rows(r1.keys, r1.signals, run_id="r1"))
    near = h ^ 0b1011  # 3 bits
    far = h ^ 0xFF00  # 8 bits, but 4 of 5 bands still equal: a candidate that verification rejects
    run2 = spark.createDataFrame([(sid(2), near), (sid(3), far), (sid(4), None)], "sample_id string, img_phash bigint")
    got = {r["sample_id"]: (r["dup_keep"], r["dup_reason"]) for r in phash_dedup(run2, history=hist, run_id="r2").signals.collect()}
    assert got == {sid(2): (False, "history"), sid(3): (True, None), sid(4): (False, "missing_input")}


def test_exact_dedup_with_several_keys_per_sample_is_transitive(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(sid(3), [1, 2]), (sid(1), [2, 3]), (sid(2), [3]), (sid(4), [9]), (sid(5), None)],
        "sample_id string, keys array<bigint>",
    )
    got = {r["sample_id"]: (r["dup_cluster_id"], r["dup_cluster_size"]) for r in exact_dedup(df, key_col="keys").signals.collect()}
    assert got == {sid(1): (sid(1), 3), sid(2): (sid(1), 3), sid(3): (sid(1), 3), sid(4): (sid(4), 1), sid(5): (sid(5), 1)}


def test_verified_keep_leaves_every_removed_document_a_kept_duplicate(spark: SparkSession) -> None:
    """Chains A~B~C~D~E (adjacent Jaccard 0.5, two apart 0.2): one-per-component would remove C."""
    texts, ids, chains = chain_corpus(seed=31, n_chains=12, length=5, n_unique=40)
    threshold = 0.35
    df = minhash_frame(spark, texts, ids, bands=50, rows=3)
    res = minhash_dedup(df, scheme=MinhashScheme(ngram=5, bands=50, rows=3, seed=1), jaccard_threshold=threshold)
    rows = {r["sample_id"]: r for r in res.signals.collect()}
    assert len(rows) == len(ids)
    text = dict(zip(ids, texts))
    kept = [s for s, r in rows.items() if r["dup_keep"]]
    removed = [s for s, r in rows.items() if not r["dup_keep"]]
    assert {rows[s]["dup_reason"] for s in removed} == {"in_run"}
    # The guarantee, against exact word-5-gram Jaccard: every removed document has a kept duplicate.
    lacking = [s for s in removed if not any(shingle_jaccard(text[s], text[k]) >= threshold for k in kept if rows[k]["dup_cluster_id"] == rows[s]["dup_cluster_id"])]
    assert lacking == []
    # Recall: every adjacent pair (the true duplicates) lost one side; chains keep their middle.
    for chain in chains:
        assert all(not (rows[a]["dup_keep"] and rows[b]["dup_keep"]) for a, b in zip(chain, chain[1:]))
        assert [rows[s]["dup_keep"] for s in chain] == [True, False, True, False, True]
        assert len({rows[s]["dup_cluster_id"] for s in chain}) == 1 and rows[chain[0]]["dup_cluster_size"] == 5


def test_history_survives_radius_and_band_changes(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], DEDUP_KEYS_SCHEMA)
    # pHash: run 1 at radius 4 stores full hashes; run 2 at radius 6 still matches them.
    h = 0x0F0F_3C3C_5A5A_9696
    r1 = phash_dedup(spark.createDataFrame([(sid(1), h)], "sample_id string, img_phash bigint"), radius_bits=4, history=empty, run_id="p1")
    hist = merge_keys_df(empty, history_rows(r1.keys, r1.signals, run_id="p1")).localCheckpoint()
    assert {r["key_type"] for r in hist.collect()} == {"img_phash"}
    run2 = spark.createDataFrame([(sid(2), h ^ 0b111111), (sid(3), h ^ 0b11), (sid(4), h ^ 0xFF)], "sample_id string, img_phash bigint")
    got = {r["sample_id"]: r["dup_reason"] for r in phash_dedup(run2, radius_bits=6, history=hist, run_id="p2").signals.collect()}
    assert got == {sid(2): "history", sid(3): "history", sid(4): None}  # 6, 2 bits: within k=6; 8 bits: not

    # MinHash: run 1 with 14x8 stores signatures; run 2 with 20x4 (and a threshold) still matches.
    texts1, ids1, _ = near_dup_corpus(41, n_clusters=0, per_cluster=0, n_unique=20)
    m1 = minhash_dedup(minhash_frame(spark, texts1, ids1), history=empty, run_id="m1")
    mhist = merge_keys_df(empty, history_rows(m1.keys, m1.signals, run_id="m1")).localCheckpoint()
    assert {r["key_type"] for r in mhist.collect()} == {"txt_minhash_sig:5:1"}
    rng = random.Random(8)
    copies = [" ".join(mutate(rng, t.split(), 0.005)) for t in texts1[:5]]
    fresh, fresh_ids, _ = near_dup_corpus(42, n_clusters=0, per_cluster=0, n_unique=5, start=900)
    ids2 = [sid(800 + i) for i in range(5)] + fresh_ids
    scheme = MinhashScheme(ngram=5, bands=20, rows=4, seed=1)
    m2 = minhash_dedup(minhash_frame(spark, copies + fresh, ids2, bands=20, rows=4), scheme=scheme, jaccard_threshold=0.8, history=mhist, run_id="m2")
    got2 = {r["sample_id"]: r["dup_reason"] for r in m2.signals.collect()}
    assert got2 == {**{sid(800 + i): "history" for i in range(5)}, **{s: None for s in fresh_ids}}

    # Rows of the old band-key type still match (unverified) when the scheme is unchanged.
    bands = explode_keys(minhash_frame(spark, texts1, ids1), key_col="txt_minhash_bands").select(
        F.lit("txt_minhash_5g_14x8_s1").alias("key_type"), key_to_binary(F.col("key"), T.LongType()).alias("key"), "sample_id", F.lit("m0").alias("first_seen_run")
    )
    m3 = minhash_dedup(minhash_frame(spark, copies, ids2[:5]), history=bands, run_id="m3")
    assert {r["dup_reason"] for r in m3.signals.collect()} == {"history"}
