"""Text near-duplicates: MinHash LSH band buckets -> candidate edges -> components -> keep.

History stores the signature of every kept sample (key type ``txt_minhash_sig:<ngram>:<seed>``,
the signature in ``key``), not band keys: at match time band keys for the step's current
``bands x rows`` are cut from the signatures on both sides (:func:`minhash_band_columns`), and
with a threshold the history candidates are verified by estimated Jaccard. So changing bands or
rows keeps matching every earlier crawl. Band-key rows of the old type (``txt_minhash_<n>g_<b>x<r>_s<seed>``)
are still matched, unverified, against the operator's band column when their type equals the
step's; they are no longer written.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_mm.dedup.candidates import explode_keys, minhash_band_columns, pair_edges, signature_similarity, star_edges, verify_edges
from spark_mm.dedup.components import connected_components
from spark_mm.dedup.dedup import DedupResult, cluster_and_keep, long_keys, need_run_id
from spark_mm.dedup.history import history_matches
from spark_mm.dedup.keep import DEFAULT_MAX_GREEDY_COMPONENT, JaccardAtLeast, key_present, verified_keep
from spark_mm.dedup.policy import KeepPolicy
from spark_mm.dedup.steps import MinhashScheme

DEFAULT_SCHEME = MinhashScheme(ngram=5, bands=14, rows=8, seed=1)


def minhash_keys(
    df: DataFrame, *, scheme: MinhashScheme = DEFAULT_SCHEME, bands_col: str = "txt_minhash_bands", sig_col: str | None = "txt_minhash_sig", id_col: str = "sample_id"
) -> DataFrame:
    """History keys ``(key_type, key, sample_id)``: signatures, or band keys when there are none."""
    if sig_col is None:
        return long_keys(df, bands_col, scheme.key_type, id_col)
    return df.where(F.col(sig_col).isNotNull()).select(
        F.lit(scheme.signature_key_type).alias("key_type"), F.col(sig_col).alias("key"), F.col(id_col).alias("sample_id")
    )


def minhash_dedup(
    df: DataFrame,
    *,
    scheme: MinhashScheme = DEFAULT_SCHEME,
    bands_col: str = "txt_minhash_bands",
    sig_col: str | None = "txt_minhash_sig",
    jaccard_threshold: float | None = None,
    id_col: str = "sample_id",
    max_pair_bucket: int = 64,
    policy: KeepPolicy = KeepPolicy(),
    history: DataFrame | None = None,
    run_id: str | None = None,
    max_iterations: int = 40,
    max_greedy_component: int = DEFAULT_MAX_GREEDY_COMPONENT,
) -> DedupResult:
    """MinHash dedup of one run against itself and, with ``history``, every earlier run.

    Without ``jaccard_threshold`` (FineWeb's setting) sharing any band key makes two samples
    duplicates, each bucket contributes a star to its smallest id, one member per component is
    kept and a history match drops the whole component: chains can remove a sample nothing kept
    duplicates (FineWeb accepts this). With a threshold, candidate pairs (all pairs of buckets up
    to ``max_pair_bucket``, stars beyond) are kept only when the signature-estimated Jaccard
    reaches it, history candidates likewise, and members are kept by
    :func:`~spark_mm.dedup.keep.verified_keep`: every removed sample has a kept sample (in this
    run or an earlier one) it duplicates at the threshold.

    Args:
        scheme: the producing operator's n-gram, bands, rows and seed.
        bands_col: the operator's band keys (in-run candidates, legacy history rows).
        sig_col: the operator's signatures (verification, history); ``None`` only without
            threshold, and then history is band keys of this exact scheme.
    """
    if sig_col is None and jaccard_threshold is not None:
        raise ValueError("jaccard_threshold needs sig_col (run txt_minhash with with_signature=True)")
    keyed = explode_keys(df, key_col=bands_col, id_col=id_col)
    sigs = None
    if sig_col is not None:
        sigs = df.select(F.col(id_col).alias("sample_id"), F.col(sig_col).alias("value")).where(F.col("value").isNotNull())
    hits = None
    if history is not None:
        need_run_id(run_id)
        hits = _history_hits(df, sigs, history, scheme=scheme, bands_col=bands_col, threshold=jaccard_threshold, run_id=run_id, id_col=id_col)  # type: ignore[arg-type]
    has_key = key_present(df, bands_col)
    keys = minhash_keys(df, scheme=scheme, bands_col=bands_col, sig_col=sig_col, id_col=id_col)
    if jaccard_threshold is None:
        comps = connected_components(star_edges(keyed), max_iterations=max_iterations)
        sig = cluster_and_keep(df, comps, policy=policy, history_hits=hits, id_col=id_col, has_key=has_key)
        return DedupResult("txt_minhash", keys_type(scheme, sig_col), sig, keys)
    assert sigs is not None
    edges = verify_edges(pair_edges(keyed, max_pair_bucket=max_pair_bucket), sigs, lambda a, b: signature_similarity(a, b) >= F.lit(jaccard_threshold))
    comps = connected_components(edges, max_iterations=max_iterations)
    sig = verified_keep(
        df, comps, values=sigs, similarity=JaccardAtLeast(jaccard_threshold), policy=policy, has_key=has_key,
        history_hits=hits, id_col=id_col, max_greedy_component=max_greedy_component,
    )
    return DedupResult("txt_minhash", keys_type(scheme, sig_col), sig, keys)


def keys_type(scheme: MinhashScheme, sig_col: str | None) -> str:
    """The ``dedup_keys.key_type`` this configuration writes."""
    return scheme.key_type if sig_col is None else scheme.signature_key_type


def _history_hits(
    df: DataFrame, sigs: DataFrame | None, history: DataFrame, *, scheme: MinhashScheme, bands_col: str,
    threshold: float | None, run_id: str, id_col: str,
) -> DataFrame:
    """``(sample_id)`` of new samples matching a sample an earlier run kept."""
    earlier = history.where(F.col("first_seen_run") != F.lit(run_id))
    # Legacy band-key rows of this exact scheme: no signature to verify with.
    legacy = history_matches(long_keys(df, bands_col, scheme.key_type, id_col), earlier, run_id=run_id).select("sample_id")
    if sigs is None:
        return legacy
    hist = earlier.where(F.col("key_type") == scheme.signature_key_type).select(F.col("sample_id").alias("hist_sample_id"), F.col("key").alias("hv"))

    def bands(frame: DataFrame, value: str, ident: str) -> DataFrame:
        return frame.select(ident, F.explode(minhash_band_columns(F.col(value), scheme.bands, scheme.rows)).alias("band")).where(F.col("band").isNotNull())

    cand = (
        bands(sigs, "value", "sample_id").join(bands(hist, "hv", "hist_sample_id"), "band")
        .where(F.col("sample_id") != F.col("hist_sample_id")).select("sample_id", "hist_sample_id").distinct()
    )
    if threshold is not None:
        cand = cand.join(sigs, "sample_id").join(hist, "hist_sample_id").where(signature_similarity(F.col("value"), F.col("hv")) >= F.lit(threshold))
    return cand.select("sample_id").unionByName(legacy).distinct()
