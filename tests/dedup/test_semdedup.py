"""SemDeDup on embeddings with planted near-duplicates, pinned against a numpy brute force."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.dedup import METHODS
from spark_mm.dedup.semantic import assign_clusters, semdedup, semdedup_edges
from spark_mm.errors import RecipeError
from tests.dedup.conftest import sid

EPS = 0.01  # duplicates: cosine >= 0.99
DIM = 32


def planted(seed: int = 7) -> tuple[list[str], np.ndarray, list[list[str]], set[str]]:
    """Unique vectors, groups of near-copies (cosine ~0.997) and near misses (cosine ~0.97)."""
    rng = np.random.default_rng(seed)
    vecs, groups, misses = [], [], set()

    def add(v: np.ndarray) -> str:
        vecs.append(v * rng.uniform(0.5, 3.0))  # unnormalised on purpose
        return sid(len(vecs) - 1)

    for _ in range(40):  # duplicate groups of 2-4
        base = rng.normal(size=DIM)
        base /= np.linalg.norm(base)
        groups.append([add(base + 0.035 * rng.normal(size=DIM) / np.sqrt(DIM)) for _ in range(rng.integers(2, 5))])
    for _ in range(30):  # pairs just below the threshold: never duplicates
        base = rng.normal(size=DIM)
        base /= np.linalg.norm(base)
        misses.add(add(base))
        misses.add(add(base + 0.25 * rng.normal(size=DIM) / np.sqrt(DIM)))
    for _ in range(300):
        add(rng.normal(size=DIM))
    return [sid(i) for i in range(len(vecs))], np.stack(vecs), groups, misses


def brute_pairs(ids: list[str], units: np.ndarray, threshold: float, clusters: np.ndarray | None = None) -> set[tuple[str, str]]:
    sim = units @ units.T
    i, j = np.nonzero(np.triu(sim >= threshold, k=1))
    if clusters is not None:
        same = clusters[i] == clusters[j]
        i, j = i[same], j[same]
    return {(min(ids[a], ids[b]), max(ids[a], ids[b])) for a, b in zip(i, j)}


def test_semdedup_matches_brute_force_and_finds_planted_pairs(spark: SparkSession) -> None:
    ids, vecs, groups, misses = planted()
    rows = [(i, [float(x) for x in v]) for i, v in zip(ids, vecs)]
    rows += [("zz_null", None), ("zz_zero", [0.0] * DIM), ("zz_empty", [])]
    df = spark.createDataFrame(rows, "sample_id string, emb array<float>")

    assigned = assign_clusters(df, embedding_col="emb", n_clusters=6, seed=1234).localCheckpoint(eager=True)
    got = assigned.select("sample_id", "cluster", "u").collect()
    by_id = {r["sample_id"]: r for r in got}
    assert set(by_id) == set(ids)  # null, zero and empty embeddings are not clustered
    units = np.array([by_id[i]["u"] for i in ids])
    as_stored = vecs.astype(np.float32).astype(np.float64)  # the column is array<float>
    np.testing.assert_allclose(units, as_stored / np.linalg.norm(as_stored, axis=1, keepdims=True), atol=1e-12)
    clusters = np.array([by_id[i]["cluster"] for i in ids])
    assert len(set(clusters)) == 6

    edges = {(min(r.src, r.dst), max(r.src, r.dst)) for r in semdedup_edges(assigned, eps=EPS).collect()}
    assert edges == brute_pairs(ids, units, 1 - EPS, clusters)  # the rule, exactly, inside clusters
    everywhere = brute_pairs(ids, units, 1 - EPS)
    missed = everywhere - edges
    print(f"semdedup: {len(everywhere)} pairs at cosine >= {1 - EPS}, {len(missed)} split across k-means clusters")

    res = semdedup(df, embedding_col="emb", n_clusters=6, eps=EPS, seed=1234)
    sig = {r["sample_id"]: r for r in res.signals.collect()}
    assert len(sig) == len(rows)  # rows in = rows out
    for bad in ("zz_null", "zz_zero", "zz_empty"):
        assert not sig[bad]["dup_keep"] and sig[bad]["dup_reason"] == "missing_input"
    planted_dups = {m for g in groups for m in g[1:]}  # smallest id of each group is kept
    removed = {i for i in ids if not sig[i]["dup_keep"]}
    recall = len(removed & planted_dups) / len(planted_dups)
    precision = len(removed & planted_dups) / len(removed)
    print(f"semdedup planted: recall {recall:.3f}, precision {precision:.3f} ({len(planted_dups)} planted duplicates)")
    assert recall >= 0.95 and precision == 1.0
    assert not removed & misses  # cosine ~0.97 < 0.99: kept
    for g in groups:
        if all(clusters[ids.index(m)] == clusters[ids.index(g[0])] for m in g):
            assert sig[g[0]]["dup_keep"] and {sig[m]["dup_cluster_id"] for m in g} == {g[0]}
            assert all(sig[m]["dup_reason"] == "in_run" for m in g[1:])
    assert res.keys.count() == 0  # no history keys: cross-run history is not supported


def semdedup_recipe(step: dict) -> dict:  # type: ignore[type-arg]
    return {
        "job": "x",
        "namespace": "t",
        "source": {"type": "jsonl", "path": "/tmp/x.jsonl"},
        "stages": [{"name": "text", "ops": [{"op": "txt_minhash"}]}],
        "dedup": [{"name": "sem", "method": "semdedup", "column": "txt_minhash_bands", "n_clusters": 10, "eps": 0.01, **step}],
    }


def test_semdedup_step_refuses_history() -> None:
    assert "semdedup" in METHODS and METHODS["semdedup"].lineage == "semdedup@1"
    with pytest.raises(RecipeError) as err:
        recipes.from_mapping(semdedup_recipe({"history": True}))
    msg = str(err.value)
    assert "dedup[0].history" in msg and "cross-run history is not supported for method 'semdedup'" in msg
    with pytest.raises(RecipeError, match="dedup\\[0\\].eps"):
        recipes.from_mapping(semdedup_recipe({"eps": 0}))
