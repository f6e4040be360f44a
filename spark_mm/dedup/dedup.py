"""Exact / URL dedup over Spark DataFrames, and what every dedup method shares.

Each dedup function takes a signals DataFrame (one row per sample with ``sample_id`` and the key
columns the dedup operators added), shuffles only compact keys, and returns a
:class:`DedupResult`: per-sample ``dup_cluster_id`` / ``dup_cluster_size`` / ``dup_keep`` /
``dup_reason`` (rows in = rows out) plus this run's keys for the ``dedup_keys`` index. A sample
whose key is null gets ``dup_keep = false`` with reason ``missing_input``. MinHash is in
``minhash.py``, pHash in ``phash.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.dedup.candidates import bucket_roots, explode_keys, star_edges
from spark_mm.dedup.components import connected_components
from spark_mm.dedup.history import history_matches, key_to_binary
from spark_mm.dedup.keep import key_present
from spark_mm.dedup.policy import DupReason, KeepPolicy

SIGNAL_COLUMNS = ("dup_cluster_id", "dup_cluster_size", "dup_keep", "dup_reason")


@dataclass(frozen=True)
class DedupResult:
    """Outcome of one key type's dedup.

    Attributes:
        name: signal prefix used by :func:`combine_signals` (``txt_minhash``, ``url``, ...).
        key_type: ``dedup_keys.key_type`` of the keys (parameters included, e.g. ``img_phash_mih4``).
        signals: ``sample_id, dup_cluster_id, dup_cluster_size, dup_keep, dup_reason`` for every
            input row. Cluster id is the smallest member id; singletons are their own cluster.
        keys: ``key_type, key (binary), sample_id`` of this run, for :func:`history_rows`.
    """

    name: str
    key_type: str
    signals: DataFrame
    keys: DataFrame


def cluster_and_keep(
    samples: DataFrame,
    components: DataFrame,
    *,
    policy: KeepPolicy,
    history_hits: DataFrame | None = None,
    id_col: str = "sample_id",
    has_key: Column | None = None,
) -> DataFrame:
    """Keep one member per cluster (unverified keys) and give every sample its dup signals.

    For exact keys every member equals the kept one. For unverified LSH keys (no threshold) a
    removed member may duplicate nothing kept (chains); verified methods use
    :func:`spark_mm.dedup.keep.verified_keep` instead.

    Args:
        samples: every sample of the run (``id_col`` and, for ``max_signal``, the signal column).
        components: ``(node, component)`` for samples in non-trivial clusters only.
        policy: which member of a cluster is kept.
        history_hits: ``(sample_id)`` of samples that duplicate an earlier run; their whole
            cluster is dropped with reason ``history`` (the earlier copy was already kept).
        id_col: sample id column of ``samples``.
        has_key: over ``samples``: false where the key is null (``missing_input``); default all true.
    """
    present = has_key if has_key is not None else F.lit(True)
    ids = samples.select(F.col(id_col).alias("sample_id"), present.alias("has_key"), *_score_cols(samples, policy))
    members = components.select(F.col("node").alias("sample_id"), F.col("component").alias("cluster"))
    if policy.kind == "max_signal":
        members = members.join(ids, "sample_id", "left")
        order = [F.col("score").desc_nulls_last(), F.col("sample_id").asc()]
    else:
        order = [F.col("sample_id").asc()]
    hits = (
        history_hits.select("sample_id").distinct().withColumn("hit", F.lit(True))
        if history_hits is not None
        else None
    )
    if hits is not None:
        members = members.join(hits, "sample_id", "left")
    else:
        members = members.withColumn("hit", F.lit(None).cast("boolean"))
    by_cluster = Window.partitionBy("cluster")
    members = members.select(
        "sample_id",
        F.col("cluster").alias("dup_cluster_id"),
        F.count(F.lit(1)).over(by_cluster).alias("dup_cluster_size"),
        F.row_number().over(by_cluster.orderBy(*order)).alias("rank"),
        F.max(F.coalesce("hit", F.lit(False))).over(by_cluster).alias("cluster_hit"),
    )
    out = ids.select("sample_id", "has_key").join(members, "sample_id", "left")
    if hits is not None:
        out = out.join(hits, "sample_id", "left")
    else:
        out = out.withColumn("hit", F.lit(None).cast("boolean"))
    from_history = F.coalesce("cluster_hit", "hit", F.lit(False))
    in_run = F.coalesce(F.col("rank"), F.lit(1)) > 1
    missing = ~F.col("has_key")
    return out.select(
        "sample_id",
        F.coalesce("dup_cluster_id", "sample_id").alias("dup_cluster_id"),
        F.coalesce("dup_cluster_size", F.lit(1)).cast("int").alias("dup_cluster_size"),
        (~missing & ~from_history & ~in_run).alias("dup_keep"),
        F.when(missing, F.lit(DupReason.MISSING_INPUT.value))
        .when(from_history, F.lit(DupReason.HISTORY.value))
        .when(in_run, F.lit(DupReason.IN_RUN.value))
        .otherwise(F.lit(None).cast("string"))
        .alias("dup_reason"),
    )


def _score_cols(samples: DataFrame, policy: KeepPolicy) -> list[Column]:
    if policy.kind != "max_signal":
        return []
    assert policy.signal_column is not None
    if policy.signal_column not in samples.columns:
        raise ValueError(f"keep policy signal column {policy.signal_column!r} not in {samples.columns}")
    return [F.col(policy.signal_column).cast("double").alias("score")]


def long_keys(df: DataFrame, key_col: str, key_type: str, id_col: str = "sample_id") -> DataFrame:
    """``(key_type, key binary, sample_id)`` rows of a scalar or list key column (history keys)."""
    keyed = explode_keys(df, key_col=key_col, id_col=id_col)
    dtype = keyed.schema["key"].dataType
    return keyed.select(F.lit(key_type).alias("key_type"), key_to_binary(F.col("key"), dtype).alias("key"), "sample_id")


def exact_dedup(
    df: DataFrame,
    *,
    key_col: str,
    key_type: str | None = None,
    name: str | None = None,
    id_col: str = "sample_id",
    policy: KeepPolicy = KeepPolicy(),
    history: DataFrame | None = None,
    run_id: str | None = None,
) -> DedupResult:
    """Exact dedup: samples with equal ``key_col`` (binary or long; null = unique) form a cluster.

    Args:
        df: signals with ``id_col`` and ``key_col`` (e.g. ``txt_exact_key``, ``img_exact_key``);
            a list column gives several keys per sample (clusters are then connected components).
        key_type: ``dedup_keys.key_type`` (default: ``key_col``).
        name: signal prefix (default: ``key_col`` without a trailing ``_key``).
        id_col: sample id column.
        policy: keep policy.
        history: the ``dedup_keys`` table to dedup against (needs ``run_id``).
        run_id: this run's id.
    """
    key_type = key_type or key_col
    keyed = explode_keys(df, key_col=key_col, id_col=id_col)
    if isinstance(df.schema[key_col].dataType, T.ArrayType):
        # Several keys per sample: buckets overlap, so clusters are components of the stars.
        comps = connected_components(star_edges(keyed))
    else:
        # One key per sample: buckets are disjoint stars, the bucket minimum is the cluster.
        comps = (
            bucket_roots(keyed).where(F.col("n") > 1).select(F.col("sample_id").alias("node"), F.col("root").alias("component"))
        )
    keys = long_keys(df, key_col, key_type, id_col)
    hits = _hits(keys, history, run_id)
    sig = cluster_and_keep(df, comps, policy=policy, history_hits=hits, id_col=id_col, has_key=key_present(df, key_col))
    return DedupResult(name or key_col.removesuffix("_key"), key_type, sig, keys)


def url_dedup(
    df: DataFrame,
    *,
    key_col: str = "url_key",
    key_type: str = "url",
    id_col: str = "sample_id",
    policy: KeepPolicy = KeepPolicy(),
    history: DataFrame | None = None,
    run_id: str | None = None,
) -> DedupResult:
    """URL dedup: :func:`exact_dedup` over the canonical-URL key of the ``url_key`` operator."""
    return exact_dedup(
        df, key_col=key_col, key_type=key_type, name="url", id_col=id_col, policy=policy, history=history, run_id=run_id
    )


def combine_signals(results: Sequence[DedupResult]) -> DataFrame:
    """One row per sample with ``<name>_dup_*`` columns per key type, plus overall ``dup_keep``
    (kept by every key type) and ``dup_reason`` (``<name>:<reason>`` of the first that drops it).

    Key types are decided independently: run them on the survivors of the previous one if every
    union cluster must keep exactly one member.
    """
    if not results:
        raise ValueError("combine_signals needs at least one DedupResult")
    out: DataFrame | None = None
    for r in results:
        s = r.signals.select("sample_id", *[F.col(c).alias(f"{r.name}_{c}") for c in SIGNAL_COLUMNS])
        out = s if out is None else out.join(s, "sample_id")
    assert out is not None
    keep = F.lit(True)
    reason: Column = F.lit(None).cast("string")
    for r in reversed(results):
        keep = keep & F.col(f"{r.name}_dup_keep")
        reason = F.when(~F.col(f"{r.name}_dup_keep"), F.concat(F.lit(f"{r.name}:"), F.col(f"{r.name}_dup_reason"))).otherwise(reason)
    return out.withColumn("dup_keep", keep).withColumn("dup_reason", reason)


def need_run_id(run_id: str | None) -> None:
    if run_id is None:
        raise ValueError("dedup against history needs run_id (rows of the current run are ignored on retry)")


def _hits(keys: DataFrame, history: DataFrame | None, run_id: str | None) -> DataFrame | None:
    if history is None:
        return None
    need_run_id(run_id)
    assert run_id is not None
    return history_matches(keys, history, run_id=run_id).select("sample_id")

