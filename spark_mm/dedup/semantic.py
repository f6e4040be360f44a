"""SemDeDup (Abbas et al. 2023): semantic near-duplicates over an embedding column.

Embeddings are L2-normalised, clustered with Spark MLlib k-means (cosine distance, i.e. spherical
k-means as the reference code's ``Kmeans_with_cos_dist``; fixed seed), and within each cluster
every pair with cosine similarity >= 1 - eps is an edge. Edges become duplicate groups through
:func:`~spark_mm.dedup.components.connected_components` and members are kept by
:func:`~spark_mm.dedup.keep.verified_keep` (every removed sample has a kept one at cosine >= 1 - eps).
Pairs split across clusters are never compared: the paper accepts that recall loss.

Shuffled: ``(sample_id, cluster, unit vector)`` once (the group-by on cluster), then edges.
Cross-run history is not supported (docs/dedup.md); ``keys`` is empty by design.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
from pyspark.ml.clustering import KMeans
from pyspark.ml.functions import array_to_vector
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.dedup.components import connected_components
from spark_mm.dedup.dedup import DedupResult
from spark_mm.dedup.keep import DEFAULT_MAX_GREEDY_COMPONENT, CosineAtLeast, verified_keep
from spark_mm.dedup.policy import KeepPolicy

KEY_TYPE = "semdedup"
EDGE_SCHEMA = "src string, dst string"
_BLOCK = 1024
"""Rows of the similarity matrix computed at once inside a cluster (memory: block x cluster size)."""


def has_embedding(col: Column) -> Column:
    """False for null, empty, zero-norm or non-finite embeddings (``missing_input``); O(d) per row."""
    sq = F.aggregate(F.transform(col, lambda v: v.cast("double")), F.lit(0.0), lambda acc, v: acc + v * v)
    return F.coalesce(col.isNotNull() & (F.size(col) > 0) & (sq > 0) & ~F.isnan(sq) & (sq != F.lit(float("inf"))), F.lit(False))


def _unit_batches(batches):  # type: ignore[no-untyped-def]
    """``(sample_id, emb)`` Arrow batches -> ``(sample_id, u)`` unit vectors in float64 (numpy).

    Done in numpy rather than Spark higher-order functions: a lambda that divides by a norm
    computed over the same array re-evaluates the norm per element (O(d^2) per row).
    """
    for b in batches:
        emb = b.column(1)
        lengths = np.diff(emb.offsets.to_numpy()) if len(emb) else np.zeros(0, dtype=np.int64)
        valid = emb.is_valid().to_numpy(zero_copy_only=False) & (lengths > 0)
        ids = b.column(0).filter(pa.array(valid))
        if not len(ids):
            continue
        vals = emb.filter(pa.array(valid))
        d = int(lengths[valid][0])
        if not (lengths[valid] == d).all():
            raise ValueError(f"semdedup: embeddings of several sizes {sorted(set(lengths[valid].tolist()))} in one column")
        x = vals.flatten().to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, d)
        norm = np.linalg.norm(x, axis=1)
        ok = np.isfinite(norm) & (norm > 0)
        u = x[ok] / norm[ok, None]
        yield pa.RecordBatch.from_arrays(
            [ids.filter(pa.array(ok)), pa.ListArray.from_arrays(pa.array(np.arange(0, u.size + 1, d), pa.int32()), pa.array(u.ravel()))],
            ["sample_id", "u"],
        )


def assign_clusters(
    df: DataFrame, *, embedding_col: str, n_clusters: int, seed: int = 1234, max_iter: int = 20, id_col: str = "sample_id"
) -> DataFrame:
    """``(sample_id, cluster, u)`` for every sample with a usable embedding (``u``: unit vector).

    Raises:
        ValueError: the embeddings do not all have one dimension (named with the sizes seen).
    """
    raw = df.select(F.col(id_col).cast("string").alias("sample_id"), F.col(embedding_col))
    units = raw.mapInArrow(_unit_batches, "sample_id string, u array<double>")
    units = units.localCheckpoint(eager=True)
    dims = [r[0] for r in units.select(F.size("u")).distinct().limit(3).collect()]
    if len(dims) > 1:
        raise ValueError(
            f"semdedup: column {embedding_col!r} holds embeddings of several sizes {sorted(dims)}; one model's embeddings only"
        )
    if not dims:
        return units.select("sample_id", F.lit(None).cast("int").alias("cluster"), "u").limit(0)
    km = KMeans(k=n_clusters, seed=seed, maxIter=max_iter, distanceMeasure="cosine", featuresCol="features", predictionCol="cluster")
    vec = units.select("sample_id", "u", array_to_vector("u").alias("features"))
    model = km.fit(vec)
    return model.transform(vec).select("sample_id", F.col("cluster").cast("int"), "u")


def cluster_pairs(threshold: float) -> Callable[[pa.Table], pa.Table]:
    """Arrow group function: pairs ``(src < dst by row order)`` of one cluster with cosine >= threshold."""

    def pairs(table: pa.Table) -> pa.Table:
        ids = np.asarray(table.column("sample_id").to_pylist(), dtype=object)
        u = table.column("u").combine_chunks()
        n = len(ids)
        x = u.values.to_numpy(zero_copy_only=False).reshape(n, -1) if n else np.zeros((0, 0))
        src: list[np.ndarray] = []
        dst: list[np.ndarray] = []
        for start in range(0, n, _BLOCK):
            sim = x[start : start + _BLOCK] @ x.T
            rows, cols = np.nonzero(sim >= threshold)
            rows = rows + start
            upper = cols > rows
            src.append(ids[rows[upper]])
            dst.append(ids[cols[upper]])
        s = np.concatenate(src) if src else np.zeros(0, dtype=object)
        d = np.concatenate(dst) if dst else np.zeros(0, dtype=object)
        return pa.table({"src": pa.array(s.tolist(), pa.string()), "dst": pa.array(d.tolist(), pa.string())})

    return pairs


def semdedup_edges(assigned: DataFrame, *, eps: float) -> DataFrame:
    """Edges ``(src, dst)`` of pairs in one cluster with cosine similarity >= 1 - eps."""
    return assigned.groupBy("cluster").applyInArrow(cluster_pairs(1.0 - eps), EDGE_SCHEMA)


def semdedup(
    df: DataFrame,
    *,
    embedding_col: str,
    n_clusters: int,
    eps: float,
    seed: int = 1234,
    max_iter: int = 20,
    id_col: str = "sample_id",
    policy: KeepPolicy = KeepPolicy(),
    max_iterations: int = 40,
    max_greedy_component: int = DEFAULT_MAX_GREEDY_COMPONENT,
) -> DedupResult:
    """SemDeDup signals of every sample (rows in = rows out); unusable embeddings are ``missing_input``."""
    if df.schema[id_col].dataType != T.StringType():
        df = df.withColumn(id_col, F.col(id_col).cast("string"))
    assigned = assign_clusters(df, embedding_col=embedding_col, n_clusters=n_clusters, seed=seed, max_iter=max_iter, id_col=id_col)
    edges = semdedup_edges(assigned, eps=eps)
    comps = connected_components(edges, max_iterations=max_iterations)
    sig = verified_keep(
        df,
        comps,
        values=assigned.select("sample_id", F.col("u").alias("value")),
        similarity=CosineAtLeast(1.0 - eps),
        policy=policy,
        has_key=has_embedding(F.col(embedding_col)),
        history_hits=None,
        id_col=id_col,
        max_greedy_component=max_greedy_component,
    )
    return DedupResult(KEY_TYPE, KEY_TYPE, sig, empty_keys(df.sparkSession))


def empty_keys(spark) -> DataFrame:  # type: ignore[no-untyped-def]
    """No history keys: SemDeDup's clusters are fitted per run, so there is nothing to match later."""
    return spark.createDataFrame([], "key_type string, key binary, sample_id string")
