"""MinHash LSH operator for text near-duplicate detection (FineWeb defaults)."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from spark_mm import _native
from spark_mm.ops.base import Operator, OpParams, OpResult
from spark_mm.ops.dedup_keys import BAND_LIST, KEY128
from spark_mm.ops.registry import register


class TxtMinhashParams(OpParams):
    op: Literal["txt_minhash"] = "txt_minhash"
    text_column: str = "text"
    ngram: int = Field(5, ge=1, description="word n-gram shingle length")
    bands: int = Field(14, ge=1, description="LSH bands")
    rows: int = Field(8, ge=1, description="signature rows per band (num_perm = bands * rows)")
    seed: int = Field(1, ge=0, lt=2**64, description="seeds the permutation constants")
    with_signature: bool = Field(True, description="also emit the signature (Jaccard verification, dedup history)")

    @property
    def key_type(self) -> str:
        """Key type name of the band keys: parameters are part of it, so sets never mix."""
        return f"txt_minhash_{self.ngram}g_{self.bands}x{self.rows}_s{self.seed}"


@register
class TxtMinhash(Operator[TxtMinhashParams]):
    """MinHash LSH band keys over word n-gram shingles (Broder 1997; FineWeb: 5-grams, 14x8).

    Signals: ``txt_minhash_bands`` (``bands`` int64 keys; two texts with shingle Jaccard ``s``
    share at least one with probability ``1 - (1 - s**rows)**bands``), ``txt_exact_key``
    (xxh3-128 of the normalised text, for the exact dedup step) and, with ``with_signature``
    (default), ``txt_minhash_sig`` (``bands*rows`` little-endian uint32 minima: Jaccard
    verification, and what dedup history stores so band settings can change). Texts with no
    words after normalisation get nulls: dedup marks them ``missing_input``.
    """

    name = "txt_minhash"
    version = "1"
    Params = TxtMinhashParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.text_column,)

    @property
    def output_schema(self) -> pa.Schema:
        fields = [pa.field("txt_minhash_bands", BAND_LIST), pa.field("txt_exact_key", KEY128)]
        if self.params.with_signature:
            fields.append(pa.field("txt_minhash_sig", pa.binary()))
        return pa.schema(fields)

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        p = self.params
        texts = batch.column(p.text_column)
        mh = pa.array(
            _native.txt_minhash(
                texts, ngram=p.ngram, bands=p.bands, rows=p.rows, seed=p.seed, with_signature=p.with_signature
            )
        )
        arrays = [mh.field("bands"), pa.array(_native.txt_exact_key(texts, normalize=True))]
        if p.with_signature:
            arrays.append(mh.field("signature"))
        return OpResult(pa.RecordBatch.from_arrays(arrays, schema=self.output_schema))
