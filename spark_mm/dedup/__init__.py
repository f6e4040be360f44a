"""Dedup in Spark: exact, URL, MinHash LSH and pHash near-duplicates, incremental via dedup_keys.

Only compact keys are shuffled: ``(key, sample_id)`` pairs, candidate edges and, for Jaccard
verification, 4-byte MinHash slots. See docs/dedup.md.
"""

from spark_mm.dedup.candidates import explode_keys, pair_edges, phash_band_columns, star_edges
from spark_mm.dedup.components import ComponentsDidNotConverge, connected_components
from spark_mm.dedup.dedup import (
    SIGNAL_COLUMNS,
    DedupResult,
    cluster_and_keep,
    combine_signals,
    exact_dedup,
    minhash_dedup,
    phash_dedup,
    url_dedup,
)
from spark_mm.dedup.history import (
    DEDUP_KEYS_DDL,
    DEDUP_KEYS_SCHEMA,
    history_matches,
    history_rows,
    merge_keys_df,
    merge_keys_sql,
)
from spark_mm.dedup.policy import DupReason, KeepPolicy

__all__ = [
    "DEDUP_KEYS_DDL",
    "DEDUP_KEYS_SCHEMA",
    "SIGNAL_COLUMNS",
    "ComponentsDidNotConverge",
    "DedupResult",
    "DupReason",
    "KeepPolicy",
    "cluster_and_keep",
    "combine_signals",
    "connected_components",
    "exact_dedup",
    "explode_keys",
    "history_matches",
    "history_rows",
    "merge_keys_df",
    "merge_keys_sql",
    "minhash_dedup",
    "pair_edges",
    "phash_band_columns",
    "phash_dedup",
    "star_edges",
    "url_dedup",
]
