"""Incremental dedup against earlier runs through the ``<ns>.dedup_keys`` side-channel index.

``dedup_keys`` holds one row per (key_type, key, sample_id) of every sample a run *kept*, with the
run that first added it. A new run joins its own keys against it (a shuffle of compact keys only,
no earlier payload is read) and adds its kept samples' keys with an idempotent MERGE on
``(key_type, key, sample_id)``.

Retry safety: matching ignores history rows whose ``first_seen_run`` is the current run, so a
retried run sees exactly the history its first attempt saw, makes the same decisions, and its MERGE
finds every row already present: nothing is added twice.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

DEDUP_KEYS_SCHEMA = T.StructType(
    [
        T.StructField("key_type", T.StringType(), False),
        T.StructField("key", T.BinaryType(), False),
        T.StructField("sample_id", T.StringType(), False),
        T.StructField("first_seen_run", T.StringType(), False),
    ]
)
"""Schema of ``<ns>.dedup_keys`` (partition it by ``key_type`` and ``bucket(N, key)``)."""

DEDUP_KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} (key_type STRING NOT NULL, key BINARY NOT NULL, "
    "sample_id STRING NOT NULL, first_seen_run STRING NOT NULL) USING iceberg "
    "PARTITIONED BY (key_type, bucket({buckets}, key))"
)


def key_to_binary(col: Column, dtype: T.DataType) -> Column:
    """Keys as the ``dedup_keys.key`` binary: binary as is, a long as 8 bytes big-endian."""
    if isinstance(dtype, T.BinaryType):
        return col
    if isinstance(dtype, T.LongType):
        return F.unhex(F.lpad(F.hex(col), 16, "0"))
    raise TypeError(f"dedup keys must be binary or long, got {dtype.simpleString()}")


def binary_to_long(col: Column) -> Column:
    """Inverse of :func:`key_to_binary` for 8-byte keys (two's complement)."""

    def half(start: int) -> Column:
        return F.conv(F.hex(F.substring(col, start, 4)), 16, 10).cast("long")

    return F.shiftleft(half(1), 32).bitwiseOR(half(5))


def history_matches(new_keys: DataFrame, history: DataFrame, *, run_id: str) -> DataFrame:
    """New samples sharing a key with a sample an *earlier* run kept.

    Args:
        new_keys: ``(key_type, key, sample_id)`` of this run.
        history: the ``dedup_keys`` table (``DEDUP_KEYS_SCHEMA``).
        run_id: this run; its own rows in history (from an earlier attempt) are ignored.

    Returns:
        ``(sample_id, hist_sample_id, key_type)``, distinct; a sample is never its own match.
    """
    h = history.where(F.col("first_seen_run") != F.lit(run_id)).select(
        "key_type", "key", F.col("sample_id").alias("hist_sample_id")
    )
    return (
        new_keys.join(h, ["key_type", "key"])
        .where(F.col("sample_id") != F.col("hist_sample_id"))
        .select("sample_id", "hist_sample_id", "key_type")
        .distinct()
    )


def history_rows(keys: DataFrame, signals: DataFrame, *, run_id: str) -> DataFrame:
    """Rows this run adds to ``dedup_keys``: the keys of its kept samples, distinct.

    Args:
        keys: ``(key_type, key, sample_id)`` of this run (``DedupResult.keys``).
        signals: ``(sample_id, dup_keep, ...)`` (``DedupResult.signals``).
        run_id: written as ``first_seen_run``.
    """
    kept = signals.where(F.col("dup_keep")).select("sample_id")
    return (
        keys.join(kept, "sample_id", "left_semi")
        .select("key_type", "key", "sample_id", F.lit(run_id).alias("first_seen_run"))
        .dropDuplicates(["key_type", "key", "sample_id"])
    )


def merge_keys_sql(table: str, source_view: str) -> str:
    """Idempotent MERGE adding ``source_view`` (from :func:`history_rows`) to ``table``.

    >>> print(merge_keys_sql("lake.web.dedup_keys", "new_keys"))  # doctest: +NORMALIZE_WHITESPACE
    MERGE INTO lake.web.dedup_keys t USING new_keys s
    ON t.key_type = s.key_type AND t.key = s.key AND t.sample_id = s.sample_id
    WHEN NOT MATCHED THEN INSERT (key_type, key, sample_id, first_seen_run)
    VALUES (s.key_type, s.key, s.sample_id, s.first_seen_run)
    """
    return (
        f"MERGE INTO {table} t USING {source_view} s\n"
        "ON t.key_type = s.key_type AND t.key = s.key AND t.sample_id = s.sample_id\n"
        "WHEN NOT MATCHED THEN INSERT (key_type, key, sample_id, first_seen_run)\n"
        "VALUES (s.key_type, s.key, s.sample_id, s.first_seen_run)"
    )


def merge_keys_df(history: DataFrame, rows: DataFrame) -> DataFrame:
    """The DataFrame equivalent of :func:`merge_keys_sql` (for catalogs without MERGE, and tests)."""
    new = rows.join(history.select("key_type", "key", "sample_id"), ["key_type", "key", "sample_id"], "left_anti")
    return history.unionByName(new.select(*DEDUP_KEYS_SCHEMA.fieldNames()))
