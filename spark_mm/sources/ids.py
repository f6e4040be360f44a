"""Stable sample ids: 128 bits of SHA-256 over what a record *is*, never over where it lies.

Four kinds of key, each a tuple of strings joined by NUL and tagged, so kinds never collide:

- ``("rec", scope, native_id)`` for a record that carries its own id (a WARC-Record-ID, a
  dataset's ``id_column``); ``scope`` keeps two datasets' ids apart.
- ``("pos", file_digest, position)`` for a record known only by its place in a file (row index,
  line number, byte offset, or 0 for a whole image file); ``file_digest`` is the SHA-256 of the
  file's bytes, so the same bytes anywhere give the same ids and other bytes under the same name
  give new ones.
- ``("link", link_id)`` for an image downloaded from a link of ``<ns>.image_links``: the link
  row is the record (its ``link_id`` already names page, URL and position), and each link is
  fetched once, so its sample keeps that id whatever bytes the fetch got.
- ``("err", file_digest, offset, ordinal)`` for a row that stands for a failure of the file rather
  than one record (unreadable footer, data that breaks part-way); ``ordinal`` counts such rows in
  the file, so two breaks at one offset still get two ids.

The Spark expressions and the Python functions agree bit for bit. See docs/identity.md.
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

SEPARATOR = "\x00"


def _digest(*parts: str) -> str:
    return hashlib.sha256(SEPARATOR.join(parts).encode()).hexdigest()[:32]


def record_id(scope: str, native_id: str) -> str:
    """The id of a record that carries its own id, within ``scope``.

    >>> record_id("warc", "<urn:uuid:1>") == record_id("warc", "<urn:uuid:1>")
    True
    >>> record_id("hf:a/b", "7") != record_id("hf:c/d", "7")
    True
    """
    return _digest("rec", scope, native_id)


def position_id(file_digest: str, position: int | str) -> str:
    """The id of the record at ``position`` of the file whose bytes hash to ``file_digest``.

    ``position`` is an offset, or a name the record has within the file (a WebDataset key).

    >>> len(position_id("ab" * 32, 1024))
    32
    """
    return _digest("pos", file_digest, str(position))


def error_id(file_digest: str, offset: int, ordinal: int) -> str:
    """The id of the ``ordinal``-th file-level error row of a file (0-based).

    >>> error_id("ab" * 32, 10, 0) != error_id("ab" * 32, 10, 1)
    True
    """
    return _digest("err", file_digest, str(offset), str(ordinal))


def link_sample_id(link_id: str) -> str:
    """The id of the sample downloaded from the link ``link_id``.

    >>> link_sample_id("ab12") != record_id("image_links", "ab12")
    True
    """
    return _digest("link", link_id)


def _digest_col(*parts: Column) -> Column:
    return F.substring(F.sha2(F.concat_ws(SEPARATOR, *parts), 256), 1, 32)


def record_id_col(scope: str, native_id: Column) -> Column:
    """Spark expression computing :func:`record_id` (null when ``native_id`` is null)."""
    return F.when(native_id.isNotNull(), _digest_col(F.lit("rec"), F.lit(scope), native_id.cast("string")))


def position_id_col(file_digest: Column, position: Column) -> Column:
    """Spark expression computing :func:`position_id`."""
    return _digest_col(F.lit("pos"), file_digest, position.cast("string"))


def link_sample_id_col(link_id: Column) -> Column:
    """Spark expression computing :func:`link_sample_id` (null when ``link_id`` is null)."""
    return F.when(link_id.isNotNull(), _digest_col(F.lit("link"), link_id.cast("string")))
