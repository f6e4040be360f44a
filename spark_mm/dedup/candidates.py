"""Candidate pairs from key buckets, and their verification. Only (key, sample_id) is shuffled.

A bucket is the set of samples sharing one key (an LSH band key, a pHash band key, an exact key).
Connecting every pair of a bucket is quadratic in its size, and a few giant buckets (boilerplate
pages, blank images) would dominate the job. Unverified dedup only needs connectivity, so each
member is linked to the bucket's smallest id (a star: ``size - 1`` edges). Verification needs real
pairs: buckets up to ``max_pair_bucket`` members give all pairs, larger ones fall back to the star
(members are verified against the bucket's smallest id only; documented recall loss).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

VerifyFn = Callable[[Column, Column], Column]


def explode_keys(df: DataFrame, *, key_col: str, id_col: str = "sample_id") -> DataFrame:
    """``(key, sample_id)`` rows of a scalar key column or a list-of-keys column; nulls dropped."""
    dtype = df.schema[key_col].dataType
    if isinstance(dtype, T.ArrayType):
        out = df.select(F.col(id_col).alias("sample_id"), F.explode(key_col).alias("key"))
    else:
        out = df.select(F.col(id_col).alias("sample_id"), F.col(key_col).alias("key"))
    return out.where(F.col("key").isNotNull()).select("key", "sample_id")


def bucket_roots(keyed: DataFrame) -> DataFrame:
    """``keyed`` plus each bucket's smallest id (``root``) and size (``n``), in one shuffle.

    A window over ``key`` moves each ``(key, sample_id)`` row once; a group-by plus join back
    would move the rows twice once the bucket table outgrows the broadcast limit. Window buffers
    spill to disk, so a giant bucket costs time, not memory.
    """
    by_key = Window.partitionBy("key")
    return keyed.select(
        "key",
        "sample_id",
        F.min("sample_id").over(by_key).alias("root"),
        F.count(F.lit(1)).over(by_key).alias("n"),
    )


def star_edges(keyed: DataFrame) -> DataFrame:
    """Edges ``(src, dst)`` linking each bucket member to the bucket's smallest id (distinct)."""
    return (
        bucket_roots(keyed)
        .where((F.col("n") > 1) & (F.col("sample_id") != F.col("root")))
        .select(F.col("sample_id").alias("src"), F.col("root").alias("dst"))
        .distinct()
    )


def pair_edges(keyed: DataFrame, *, max_pair_bucket: int) -> DataFrame:
    """All pairs ``(src < dst)`` of buckets up to ``max_pair_bucket`` members, stars beyond."""
    sized = bucket_roots(keyed).where(F.col("n") > 1)
    small = sized.where(F.col("n") <= max_pair_bucket).select("key", "sample_id")
    pairs = (
        small.alias("a")
        .join(small.alias("b"), "key")
        .where(F.col("a.sample_id") < F.col("b.sample_id"))
        .select(F.col("a.sample_id").alias("src"), F.col("b.sample_id").alias("dst"))
    )
    big = (
        sized.where((F.col("n") > max_pair_bucket) & (F.col("sample_id") != F.col("root")))
        .select(F.col("root").alias("src"), F.col("sample_id").alias("dst"))
    )
    return pairs.union(big).distinct()


def signature_similarity(a: Column, b: Column) -> Column:
    """Fraction of equal uint32 slots of two MinHash signatures (binary): estimated Jaccard.

    Signatures of different lengths (history written with more or fewer permutations) are
    compared on their common prefix: permutation ``i`` depends on the seed only.
    """
    n = F.least(F.length(a), F.length(b)) / 4
    eq = F.aggregate(
        F.sequence(F.lit(0), (n - 1).cast("int")),
        F.lit(0),
        lambda acc, i: acc + F.when(F.substring(a, i * 4 + 1, 4) == F.substring(b, i * 4 + 1, 4), 1).otherwise(0),
    )
    return F.when(n > 0, eq / n).otherwise(F.lit(0.0))


def minhash_band_columns(signature: Column, bands: int, rows: int) -> Column:
    """Band keys cut from a signature in Spark: ``xxhash64(j, slots j*rows .. j*rows+rows)``.

    Used on both sides of a history match (this run's and history's signatures), so any
    ``bands x rows`` the step uses today can be cut from signatures stored under another setting.
    Bands a shorter signature does not cover are null (dropped by the explode's caller).
    """
    width = rows * 4
    return F.array(
        *[
            F.when(F.length(signature) >= (j + 1) * width, F.xxhash64(F.lit(j), F.substring(signature, j * width + 1, width)))
            for j in range(bands)
        ]
    )


def verify_edges(edges: DataFrame, values: DataFrame, keep: VerifyFn) -> DataFrame:
    """Edges whose endpoints' values (``values``: ``sample_id, value``) satisfy ``keep(a, b)``."""
    va = values.select(F.col("sample_id").alias("src"), F.col("value").alias("va"))
    vb = values.select(F.col("sample_id").alias("dst"), F.col("value").alias("vb"))
    return edges.join(va, "src").join(vb, "dst").where(keep(F.col("va"), F.col("vb"))).select("src", "dst")


def hamming(a: Column, b: Column) -> Column:
    """Hamming distance of two 64-bit hashes (long columns)."""
    return F.bit_count(a.bitwiseXOR(b))


def phash_band_columns(phash: Column, radius_bits: int) -> Column:
    """Array of multi-index band keys, identical to the Rust kernel ``phash_band_keys``."""
    if radius_bits == 0:
        return F.array(phash)
    m = radius_bits + 1
    base, extra = divmod(64, m)
    keys, start = [], 0
    for j in range(m):
        w = base + (1 if j < extra else 0)
        band = F.shiftrightunsigned(phash, start).bitwiseAND(F.lit((1 << w) - 1).cast("long"))
        keys.append(F.lit(j << 32).cast("long").bitwiseOR(band))
        start += w
    return F.array(*keys)
