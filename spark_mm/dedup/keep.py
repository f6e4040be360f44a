"""Which members of a verified duplicate cluster are kept, so that no removal is a chain artefact.

Candidate components are transitive: A~B and B~C put A and C in one component even when A and C
share little, and keeping one member per component would remove C although nothing kept
duplicates it. Here members are visited in keep-policy order; a member is removed only when it is
similar (the step's verified rule: Hamming <= k, estimated Jaccard >= t) to a member already kept,
otherwise it is kept too. So every removed sample has a kept sample it duplicates, by
construction. History hits (verified against a kept earlier sample) are removed and never kept.

Components up to ``max_greedy_component`` members are decided exactly, one Arrow group per
component. Larger ones (a boilerplate page, a blank image repeated a million times) would not fit
one group, so they use a one-round rule in Spark: the policy's first non-history member is kept,
members similar to it are removed, every other member is kept. The guarantee still holds; only
more members may be kept than the greedy would keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_mm.dedup.candidates import hamming, signature_similarity
from spark_mm.dedup.policy import DupReason, KeepPolicy

DEFAULT_MAX_GREEDY_COMPONENT = 10_000


@dataclass(frozen=True)
class HammingWithin:
    """Two 64-bit hashes (long) are duplicates when their Hamming distance is at most ``radius``."""

    radius: int

    def spark(self, a: Column, b: Column) -> Column:
        return hamming(a, b) <= self.radius

    def matrix(self, values: Sequence[object]) -> np.ndarray:
        return np.asarray(values, dtype=np.int64).view(np.uint64).reshape(-1, 1)

    def any_similar(self, kept: np.ndarray, row: np.ndarray) -> bool:
        return bool(kept.shape[0]) and bool((np.bitwise_count(kept[:, 0] ^ row[0]) <= self.radius).any())


@dataclass(frozen=True)
class JaccardAtLeast:
    """Two MinHash signatures (binary, uint32 LE) are duplicates when the estimate reaches ``threshold``."""

    threshold: float

    def spark(self, a: Column, b: Column) -> Column:
        return signature_similarity(a, b) >= self.threshold

    def matrix(self, values: Sequence[object]) -> np.ndarray:
        width = max(len(v) for v in values) // 4  # type: ignore[arg-type]
        out = np.zeros((len(values), width), dtype=np.uint32)
        for i, v in enumerate(values):
            row = np.frombuffer(v, "<u4")  # type: ignore[arg-type]
            out[i, : len(row)] = row
        return out

    def any_similar(self, kept: np.ndarray, row: np.ndarray) -> bool:
        return bool(kept.shape[0]) and bool(((kept == row).mean(axis=1) >= self.threshold).any())


@dataclass(frozen=True)
class CosineAtLeast:
    """Two unit vectors (``array<double>``) are duplicates when their dot product reaches ``threshold``."""

    threshold: float

    def spark(self, a: Column, b: Column) -> Column:
        return F.aggregate(F.zip_with(a, b, lambda x, y: x * y), F.lit(0.0), lambda acc, v: acc + v) >= self.threshold

    def matrix(self, values: Sequence[object]) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)

    def any_similar(self, kept: np.ndarray, row: np.ndarray) -> bool:
        return bool(kept.shape[0]) and bool((kept @ row >= self.threshold).any())


Similarity = HammingWithin | JaccardAtLeast | CosineAtLeast


def greedy_keep(
    ids: Sequence[str],
    values: Sequence[object],
    hits: Sequence[bool],
    similarity: Similarity,
    scores: Sequence[float | None] | None = None,
) -> list[tuple[bool, str | None]]:
    """Keep decisions for the members of one component, in input order.

    >>> greedy_keep(["a", "b", "c"], [0b0000, 0b0011, 0b1111], [False] * 3, HammingWithin(2))
    [(True, None), (False, 'in_run'), (True, None)]
    """
    order = sorted(range(len(ids)), key=lambda i: _rank(ids[i], scores[i] if scores is not None else None, scores is not None))
    matrix = similarity.matrix(values)
    kept = np.empty((0, matrix.shape[1]), dtype=matrix.dtype)
    out: list[tuple[bool, str | None]] = [(True, None)] * len(ids)
    for i in order:
        if hits[i]:
            out[i] = (False, DupReason.HISTORY.value)
        elif similarity.any_similar(kept, matrix[i]):
            out[i] = (False, DupReason.IN_RUN.value)
        else:
            kept = np.vstack([kept, matrix[i : i + 1]])
    return out


def _rank(sample_id: str, score: float | None, by_score: bool) -> tuple[bool, float, str]:
    if not by_score:
        return (False, 0.0, sample_id)
    return (score is None, -(score or 0.0), sample_id)


DECISION_SCHEMA = "sample_id string, dup_keep boolean, dup_reason string"


def _decide_groups(similarity: Similarity, by_score: bool):  # type: ignore[no-untyped-def]
    def decide(table: pa.Table) -> pa.Table:
        ids = table.column("sample_id").to_pylist()
        scores = table.column("score").to_pylist() if by_score else None
        got = greedy_keep(ids, table.column("value").to_pylist(), table.column("hit").to_pylist(), similarity, scores)
        return pa.table({"sample_id": ids, "dup_keep": [k for k, _ in got], "dup_reason": [r for _, r in got]})

    return decide


def verified_keep(
    samples: DataFrame,
    components: DataFrame,
    *,
    values: DataFrame,
    similarity: Similarity,
    policy: KeepPolicy,
    has_key: Column,
    history_hits: DataFrame | None = None,
    id_col: str = "sample_id",
    max_greedy_component: int = DEFAULT_MAX_GREEDY_COMPONENT,
) -> DataFrame:
    """Dup signals of every sample, keeping members so that each removed one has a kept duplicate.

    Args:
        samples: every sample of the step (``id_col``, the key and, for ``max_signal``, the signal).
        components: ``(node, component)`` of the verified edges (non-trivial clusters only).
        values: ``(sample_id, value)``: what ``similarity`` compares (hash or signature).
        similarity: the step's duplicate rule.
        policy: the order in which members are considered for keeping.
        has_key: over ``samples``: false where the key is null (reason ``missing_input``).
        history_hits: ``(sample_id)`` verified against a kept earlier sample.
        id_col: sample id column of ``samples``.
        max_greedy_component: components above it use the one-round rule (module docstring).
    """
    by_score = policy.kind == "max_signal"
    score = [F.col(policy.signal_column).cast("double").alias("score")] if by_score else []  # type: ignore[arg-type]
    ids = samples.select(F.col(id_col).alias("sample_id"), has_key.alias("has_key"), *score)
    hits = history_hits.select("sample_id").distinct().withColumn("hit", F.lit(True)) if history_hits is not None else None
    members = components.select(F.col("node").alias("sample_id"), F.col("component").alias("dup_cluster_id"))
    members = members.join(values, "sample_id", "left")
    if by_score:
        members = members.join(ids.select("sample_id", "score"), "sample_id", "left")
    members = members.join(hits, "sample_id", "left") if hits is not None else members.withColumn("hit", F.lit(None))
    by_cluster = Window.partitionBy("dup_cluster_id")
    members = members.select(
        "*", F.coalesce(F.col("hit").cast("boolean"), F.lit(False)).alias("is_hit"), F.count(F.lit(1)).over(by_cluster).alias("dup_cluster_size")
    ).drop("hit").withColumnRenamed("is_hit", "hit").localCheckpoint(eager=True)
    cols = ["sample_id", "value", "hit", *(["score"] if by_score else [])]
    small = (
        members.where(F.col("dup_cluster_size") <= max_greedy_component)
        .select("dup_cluster_id", *cols)
        .groupBy("dup_cluster_id")
        .applyInArrow(_decide_groups(similarity, by_score), DECISION_SCHEMA)
    )
    decided = small.unionByName(_one_round(members.where(F.col("dup_cluster_size") > max_greedy_component), similarity, by_score))
    clustered = members.select("sample_id", "dup_cluster_id", "dup_cluster_size").join(decided, "sample_id")
    return _with_singletons(ids, clustered, hits)


def _one_round(big: DataFrame, similarity: Similarity, by_score: bool) -> DataFrame:
    order = [F.col("score").desc_nulls_last(), F.col("sample_id").asc()] if by_score else [F.col("sample_id").asc()]
    rank = F.row_number().over(Window.partitionBy("dup_cluster_id", "hit").orderBy(*order))
    ranked = big.select("dup_cluster_id", "sample_id", "value", "hit", rank.alias("rank"))
    winner = ranked.where(~F.col("hit") & (F.col("rank") == 1)).select("dup_cluster_id", F.col("sample_id").alias("winner"), F.col("value").alias("wv"))
    j = ranked.join(winner, "dup_cluster_id", "left")
    removed = (F.col("sample_id") != F.col("winner")) & F.coalesce(similarity.spark(F.col("value"), F.col("wv")), F.lit(False))
    return j.select(
        "sample_id",
        (~F.col("hit") & ~removed).alias("dup_keep"),
        F.when(F.col("hit"), F.lit(DupReason.HISTORY.value)).when(removed, F.lit(DupReason.IN_RUN.value)).otherwise(F.lit(None).cast("string")).alias("dup_reason"),
    )


def _with_singletons(ids: DataFrame, clustered: DataFrame, hits: DataFrame | None) -> DataFrame:
    """Join component decisions back to every sample; samples outside components decide alone."""
    out = ids.select("sample_id", "has_key").join(clustered, "sample_id", "left")
    out = out.join(hits, "sample_id", "left") if hits is not None else out.withColumn("hit", F.lit(None).cast("boolean"))
    hit = F.coalesce(F.col("hit"), F.lit(False))
    missing = ~F.col("has_key")
    return out.select(
        "sample_id",
        F.coalesce("dup_cluster_id", "sample_id").alias("dup_cluster_id"),
        F.coalesce("dup_cluster_size", F.lit(1)).cast("int").alias("dup_cluster_size"),
        F.when(missing, F.lit(False)).when(F.col("dup_keep").isNotNull(), F.col("dup_keep")).otherwise(~hit).alias("dup_keep"),
        F.when(missing, F.lit(DupReason.MISSING_INPUT.value))
        .when(F.col("dup_keep").isNotNull(), F.col("dup_reason"))
        .when(hit, F.lit(DupReason.HISTORY.value))
        .otherwise(F.lit(None).cast("string"))
        .alias("dup_reason"),
    )


def key_present(df: DataFrame, key_col: str) -> Column:
    """``has_key`` for :func:`verified_keep` / ``cluster_and_keep``: non-null and, for lists, non-empty."""
    col = F.col(key_col)
    if df.schema[key_col].dataType.typeName() == "array":
        return col.isNotNull() & (F.size(col) > 0)
    return col.isNotNull()

