"""Dedup in Spark: exact, URL, MinHash LSH, pHash and SemDeDup near-duplicates, incremental via dedup_keys.

Only compact keys are shuffled: ``(key, sample_id)`` pairs, candidate edges and, for Jaccard
verification and history, MinHash signatures. See docs/dedup.md.
"""

from spark_mm.dedup.candidates import explode_keys, minhash_band_columns, pair_edges, phash_band_columns, star_edges
from spark_mm.dedup.components import ComponentsDidNotConverge, connected_components
from spark_mm.dedup.dedup import SIGNAL_COLUMNS, DedupResult, cluster_and_keep, combine_signals, exact_dedup, url_dedup
from spark_mm.dedup.history import (
    DEDUP_KEYS_DDL,
    DEDUP_KEYS_SCHEMA,
    history_matches,
    history_rows,
    merge_keys_df,
    merge_keys_sql,
)
from spark_mm.dedup.keep import CosineAtLeast, HammingWithin, JaccardAtLeast, greedy_keep, verified_keep
from spark_mm.dedup.methods import METHODS, DedupMethod, method_of
from spark_mm.dedup.minhash import minhash_dedup, minhash_keys
from spark_mm.dedup.phash import phash_dedup, phash_keys
from spark_mm.dedup.policy import DupReason, KeepPolicy
from spark_mm.dedup.semantic import semdedup
from spark_mm.dedup.steps import MinhashScheme

__all__ = [
    "DEDUP_KEYS_DDL",
    "DEDUP_KEYS_SCHEMA",
    "METHODS",
    "SIGNAL_COLUMNS",
    "ComponentsDidNotConverge",
    "CosineAtLeast",
    "DedupMethod",
    "DedupResult",
    "DupReason",
    "HammingWithin",
    "JaccardAtLeast",
    "KeepPolicy",
    "MinhashScheme",
    "cluster_and_keep",
    "combine_signals",
    "connected_components",
    "exact_dedup",
    "explode_keys",
    "greedy_keep",
    "history_matches",
    "history_rows",
    "merge_keys_df",
    "merge_keys_sql",
    "method_of",
    "minhash_band_columns",
    "minhash_dedup",
    "minhash_keys",
    "pair_edges",
    "phash_band_columns",
    "phash_dedup",
    "phash_keys",
    "semdedup",
    "star_edges",
    "url_dedup",
    "verified_keep",
]
