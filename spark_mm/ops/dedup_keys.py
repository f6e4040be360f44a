"""Dedup key operators: exact image-byte, URL and (URL, text) keys.

Each adds compact key columns only; grouping by key happens in ``spark_mm.dedup`` (Spark). The
exact text key ``txt_exact_key`` comes with ``txt_minhash`` (one normalisation pass for both), and
pHash band keys are cut in Spark by the phash dedup step from ``img_phash`` (one implementation,
so history can cut them again for another radius).
"""

from __future__ import annotations

import unicodedata
from typing import Literal

import pyarrow as pa
from spark_mm import _native
from spark_mm.ops.base import Operator, OpParams, OpResult
from spark_mm.ops.registry import register

KEY128 = pa.binary()  # 16-byte xxh3-128, big-endian
BAND_LIST = pa.list_(pa.field("item", pa.int64(), nullable=False))


class ImgExactKeyParams(OpParams):
    op: Literal["img_exact_key"] = "img_exact_key"
    image_column: str = "image"


@register
class ImgExactKey(Operator[ImgExactKeyParams]):
    """Exact image key ``img_exact_key``: xxh3-128 (16 bytes) of the encoded image bytes.

    Finds byte-identical copies only; re-encodes are found by the pHash dedup step.
    Null payloads get a null key.
    """

    name = "img_exact_key"
    version = "1"
    Params = ImgExactKeyParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.image_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field("img_exact_key", KEY128)])

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        key = pa.array(_native.bytes_exact_key(batch.column(self.params.image_column)))
        return OpResult(pa.RecordBatch.from_arrays([key], schema=self.output_schema))


class UrlKeyParams(OpParams):
    op: Literal["url_key"] = "url_key"
    url_column: str = "url"


@register
class UrlKey(Operator[UrlKeyParams]):
    """URL dedup key ``url_key``: xxh3-128 of the canonical URL.

    Canonical form drops the scheme, fragment, userinfo and default port and lowercases the host;
    path and query are kept as they are. URLs without a host get a null key.
    """

    name = "url_key"
    version = "1"
    Params = UrlKeyParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.url_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field("url_key", KEY128)])

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        key = pa.array(_native.url_key(batch.column(self.params.url_column)))
        return OpResult(pa.RecordBatch.from_arrays([key], schema=self.output_schema))


class UrlTextKeyParams(OpParams):
    op: Literal["url_text_key"] = "url_text_key"
    url_column: str = "url"
    text_column: str = "caption"


def normalize_pair_text(text: str) -> str:
    """The text half of a ``url_text_key``: Unicode NFC, whitespace runs as one space, stripped; case kept.

    >>> normalize_pair_text("  A  cafe\\u0301\\n on   the corner ") == "A caf\\u00e9 on the corner"
    True
    """
    return " ".join(unicodedata.normalize("NFC", text).split())


@register
class UrlTextKey(Operator[UrlTextKeyParams]):
    """(image URL, alt text) dedup key ``url_text_key``: xxh3-128 of the canonical URL's key and the normalised text.

    The key hashes the 16-byte ``url_key`` of the URL (scheme, fragment, userinfo and default port
    dropped, host lower-cased: the ``url_key`` operator's canonical form) followed by the UTF-8
    of :func:`normalize_pair_text` (NFC, whitespace collapsed, case kept), so the two halves can
    never run into each other. A null URL, a URL without a host, or a null text gives a null key
    (the dedup step's ``missing_input``). Crawling@home deduplicated LAION on md5(url + text)
    over the raw strings; the canonical URL and NFC are deviations that find a few more copies.
    """

    name = "url_text_key"
    version = "1"
    Params = UrlTextKeyParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.url_column, self.params.text_column)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field("url_text_key", KEY128)])

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        url_keys = pa.array(_native.url_key(batch.column(self.params.url_column))).to_pylist()
        texts = batch.column(self.params.text_column).to_pylist()
        joined = [None if u is None or t is None else u + normalize_pair_text(t).encode("utf-8") for u, t in zip(url_keys, texts)]
        key = pa.array(_native.bytes_exact_key(pa.array(joined, pa.binary())))
        return OpResult(pa.RecordBatch.from_arrays([key], schema=self.output_schema))
