"""Dedup steps as they appear under ``dedup:`` in a recipe (discriminated on ``method``)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from spark_mm.dedup.policy import KeepPolicy


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="signals go to <ns>.dedup_<name>")
    keep: KeepPolicy = Field(default_factory=KeepPolicy)


class PhashDedupStep(_Step):
    """Image near-duplicates: pHash Hamming distance <= radius_bits (multi-index hashing)."""

    method: Literal["phash"]
    column: str = "img_phash"
    radius_bits: int = Field(4, ge=0, le=31, description="k; 4 measured on real variants (docs/dedup.md)")


class MinhashDedupStep(_Step):
    """Text near-duplicates: MinHash LSH band keys from the ``txt_minhash`` operator."""

    method: Literal["minhash"]
    column: str = "txt_minhash_bands"
    key_type: str = Field("txt_minhash_5g_14x8_s1", description="must equal the txt_minhash op's key_type")
    signature_column: str | None = Field(None, description="txt_minhash_sig, to verify candidates by estimated Jaccard")
    jaccard_threshold: float | None = Field(None, gt=0, le=1)


class ExactDedupStep(_Step):
    """Exact duplicates by a 128-bit key column (``txt_exact_key``, ``img_exact_key``)."""

    method: Literal["exact"]
    column: str


class UrlDedupStep(_Step):
    """URL duplicates by the canonical-URL key of the ``url_key`` operator."""

    method: Literal["url"]
    column: str = "url_key"


DedupStep = Annotated[Union[PhashDedupStep, MinhashDedupStep, ExactDedupStep, UrlDedupStep], Field(discriminator="method")]
