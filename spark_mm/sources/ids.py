"""Stable sample ids: 128 bits of SHA-256 over where a record came from.

The key is the record's file path relative to the source root plus its position (row index,
line number, WARC byte offset) or its own id column, so re-ingesting the same files on any machine
yields the same ids, and the Spark expression and the Python function agree bit for bit.
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

SEPARATOR = "\x00"


def sample_id(source_key: str, record_key: str | int) -> str:
    """The sample id of one record.

    >>> sample_id("images.parquet", 0) == sample_id("images.parquet", "0")
    True
    >>> len(sample_id("a.warc.gz", 1024))
    32
    """
    digest = hashlib.sha256(f"{source_key}{SEPARATOR}{record_key}".encode()).hexdigest()
    return digest[:32]


def sample_id_col(source_key: Column, record_key: Column) -> Column:
    """Spark expression computing :func:`sample_id` on columns."""
    joined = F.concat(source_key, F.lit(SEPARATOR), record_key.cast("string"))
    return F.substring(F.sha2(joined, 256), 1, 32)
