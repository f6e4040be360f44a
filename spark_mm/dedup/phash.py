"""Image near-duplicates: pHash Hamming distance <= ``radius_bits`` through multi-index hashing.

History stores the full 64-bit hash of every kept sample (key type ``img_phash``); the band keys
of the step's current radius are cut from those hashes at match time, so a changed radius keeps
matching every earlier crawl. (Rows of the old ``img_phash_mih<k>`` band types are no longer
read or written; the full hashes were always stored beside them, so nothing needs migrating.)

Clip dedup (method ``clip_phash``) is the same code over ``video_clips.clip_phash`` with its own
key type, ``clip_phash``, so clip hashes and image hashes never match each other in history.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.dedup.candidates import bucket_roots, hamming, pair_edges, phash_band_columns, verify_edges
from spark_mm.dedup.components import connected_components
from spark_mm.dedup.dedup import DedupResult, need_run_id
from spark_mm.dedup.history import binary_to_long, key_to_binary
from spark_mm.dedup.keep import DEFAULT_MAX_GREEDY_COMPONENT, HammingWithin, key_present, verified_keep
from spark_mm.dedup.policy import KeepPolicy

KEY_TYPE = "img_phash"
CLIP_KEY_TYPE = "clip_phash"


def phash_keys(df: DataFrame, *, phash_col: str = "img_phash", id_col: str = "sample_id", key_type: str = KEY_TYPE) -> DataFrame:
    """History keys ``(key_type, key, sample_id)``: the full hash, 8 bytes big-endian."""
    return df.where(F.col(phash_col).isNotNull()).select(
        F.lit(key_type).alias("key_type"), key_to_binary(F.col(phash_col).cast("long"), T.LongType()).alias("key"), F.col(id_col).alias("sample_id")
    )


def phash_dedup(
    df: DataFrame,
    *,
    phash_col: str = "img_phash",
    radius_bits: int = 4,
    id_col: str = "sample_id",
    max_pair_bucket: int = 256,
    policy: KeepPolicy = KeepPolicy(),
    history: DataFrame | None = None,
    run_id: str | None = None,
    max_iterations: int = 40,
    max_greedy_component: int = DEFAULT_MAX_GREEDY_COMPONENT,
    key_type: str = KEY_TYPE,
) -> DedupResult:
    """Cluster by verified Hamming distance, keep so that every removed image has a kept one within k.

    Identical hashes are first collapsed to one representative (so a million blank images are a
    star, not a million-squared pairs). Distinct hashes are bucketed by the ``radius_bits + 1``
    band keys, pairs inside buckets are verified by Hamming distance, and candidate clusters are
    the connected components; members are kept by :func:`~spark_mm.dedup.keep.verified_keep`.
    Every pair within the radius shares a band, so recall within the radius is exactly 1.0
    (buckets over ``max_pair_bucket`` distinct hashes are compared with their smallest id only).
    A history hit is a kept earlier hash within the radius (band candidates, verified by Hamming).
    """
    hashes = df.select(F.col(id_col).alias("sample_id"), F.col(phash_col).cast("long").alias("h")).where(F.col("h").isNotNull())
    # 1) identical hashes: star onto the smallest id per hash value.
    by_hash = bucket_roots(hashes.select(F.col("h").alias("key"), "sample_id"))
    same_edges = by_hash.where(F.col("sample_id") != F.col("root")).select(F.col("sample_id").alias("src"), F.col("root").alias("dst"))
    # 2) distinct hashes (one representative each) through the multi-index.
    rep_h = by_hash.where(F.col("sample_id") == F.col("root")).select("sample_id", F.col("key").alias("h"))
    keyed = rep_h.select(F.explode(phash_band_columns(F.col("h"), radius_bits)).alias("key"), "sample_id")
    cand = pair_edges(keyed, max_pair_bucket=max_pair_bucket)
    near = verify_edges(cand, rep_h.select("sample_id", F.col("h").alias("value")), lambda a, b: hamming(a, b) <= radius_bits)
    comps = connected_components(same_edges.union(near), max_iterations=max_iterations)
    hits = None
    if history is not None:
        need_run_id(run_id)
        hits = _history_hits(hashes, rep_h, history, radius_bits=radius_bits, run_id=run_id, key_type=key_type)  # type: ignore[arg-type]
    sig = verified_keep(
        df,
        comps,
        values=hashes.select("sample_id", F.col("h").alias("value")),
        similarity=HammingWithin(radius_bits),
        policy=policy,
        has_key=key_present(df, phash_col),
        history_hits=hits,
        id_col=id_col,
        max_greedy_component=max_greedy_component,
    )
    return DedupResult(key_type, key_type, sig, phash_keys(df, phash_col=phash_col, id_col=id_col, key_type=key_type))


def _history_hits(hashes: DataFrame, rep_h: DataFrame, history: DataFrame, *, radius_bits: int, run_id: str, key_type: str = KEY_TYPE) -> DataFrame:
    """``(sample_id)`` of new samples within ``radius_bits`` of a hash an earlier run kept.

    Band keys for the current radius are cut from history's full hashes here, on both sides.
    """
    hist = history.where((F.col("key_type") == key_type) & (F.col("first_seen_run") != F.lit(run_id))).select(
        F.col("sample_id").alias("hist_sample_id"), binary_to_long(F.col("key")).alias("hh")
    )
    hist_bands = hist.select("hist_sample_id", "hh", F.explode(phash_band_columns(F.col("hh"), radius_bits)).alias("band"))
    new_bands = rep_h.select("h", F.explode(phash_band_columns(F.col("h"), radius_bits)).alias("band"))
    near = new_bands.join(hist_bands, "band").where(hamming(F.col("h"), F.col("hh")) <= radius_bits).select("h", "hist_sample_id").distinct()
    return near.join(hashes, "h").where(F.col("sample_id") != F.col("hist_sample_id")).select("sample_id").distinct()
