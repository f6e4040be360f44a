"""Dedup key operators: exact content keys (text, image bytes, URL) and pHash multi-index bands.

Each adds compact key columns only; grouping by key happens in ``spark_mm.dedup`` (Spark).
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from spark_mm import _native
from spark_mm.ops.base import Operator, OpParams, OpResult
from spark_mm.ops.registry import register

KEY128 = pa.binary()  # 16-byte xxh3-128, big-endian
BAND_LIST = pa.list_(pa.field("item", pa.int64(), nullable=False))


class TxtExactKeyParams(OpParams):
    op: Literal["txt_exact_key"] = "txt_exact_key"
    text_column: str = "text"
    normalize: bool = Field(True, description="hash the dedup-normalised text (else the raw UTF-8)")


@register
class TxtExactKey(Operator[TxtExactKeyParams]):
    """Exact text key ``txt_exact_key``: xxh3-128 (16 bytes) of the dedup-normalised text.

    Normalisation (lowercase, punctuation and diacritics removed, digit runs -> ``0``, whitespace
    collapsed) follows datatrove's ``simplify_text``, so texts that differ only in formatting
    share a key. Null texts and texts empty after normalisation get a null key (never duplicates).
    """

    name = "txt_exact_key"
    version = "1"
    Params = TxtExactKeyParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.text_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field("txt_exact_key", KEY128)])

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        key = pa.array(_native.txt_exact_key(batch.column(self.params.text_column), normalize=self.params.normalize))
        return OpResult(pa.RecordBatch.from_arrays([key], schema=self.output_schema))


class ImgExactKeyParams(OpParams):
    op: Literal["img_exact_key"] = "img_exact_key"
    image_column: str = "image"


@register
class ImgExactKey(Operator[ImgExactKeyParams]):
    """Exact image key ``img_exact_key``: xxh3-128 (16 bytes) of the encoded image bytes.

    Finds byte-identical copies only; re-encodes are found by pHash (``img_phash_bands``).
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


class ImgPhashBandsParams(OpParams):
    op: Literal["img_phash_bands"] = "img_phash_bands"
    phash_column: str = "img_phash"
    radius_bits: int = Field(4, ge=0, le=63, description="Hamming radius k; k+1 bands (see docs/dedup.md)")


@register
class ImgPhashBands(Operator[ImgPhashBandsParams]):
    """pHash multi-index band keys ``img_phash_bands`` (list of ``radius_bits + 1`` int64).

    The 64-bit pHash is cut into k+1 bands, so any two hashes within Hamming distance k share at
    least one band key (Norouzi et al., CVPR 2012): grouping by band key has recall exactly 1.0
    within radius k. The default k=4 was measured on real near-duplicates (docs/dedup.md).
    """

    name = "img_phash_bands"
    version = "1"
    Params = ImgPhashBandsParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.phash_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field("img_phash_bands", BAND_LIST)])

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        col = batch.column(self.params.phash_column)
        bands = pa.array(_native.phash_band_keys(col, radius=self.params.radius_bits))
        return OpResult(pa.RecordBatch.from_arrays([bands], schema=self.output_schema))
