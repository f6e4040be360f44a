"""Dedup steps as they appear under ``dedup:`` in a recipe (discriminated on ``method``).

Each step names the columns it reads in one place (:attr:`reads`), used by recipe validation and
by the dedup stage alike. The MinHash scheme (n-gram, bands, rows, seed) is never typed by hand:
recipe validation derives it from the ``txt_minhash`` operator that writes the step's column
(``spark_mm.dedup.validate``).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from spark_mm.dedup.policy import KeepPolicy
from spark_mm.errors import RecipeError

MAX_RADIUS_BITS = 31
"""The one bound on the pHash Hamming radius: 32 bands of 2 bits are already near-useless filters."""


class MinhashScheme(BaseModel):
    """The LSH parameters of a ``txt_minhash`` operator, as dedup needs them.

    >>> s = MinhashScheme(ngram=5, bands=14, rows=8, seed=1)
    >>> s.key_type, s.signature_key_type
    ('txt_minhash_5g_14x8_s1', 'txt_minhash_sig:5:1')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    ngram: int
    bands: int
    rows: int
    seed: int

    @property
    def key_type(self) -> str:
        """The operator's band-key type (``TxtMinhashParams.key_type``); legacy history rows use it."""
        return f"txt_minhash_{self.ngram}g_{self.bands}x{self.rows}_s{self.seed}"

    @property
    def signature_key_type(self) -> str:
        """History key type of signatures: bands and rows are not part of it, they are derived.

        Permutation ``i`` depends only on the seed (SplitMix64 stream), so a signature with more
        permutations holds every shorter one as a prefix: any ``bands x rows`` can be cut from it.
        """
        return f"txt_minhash_sig:{self.ngram}:{self.seed}"


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="signals go to <ns>.dedup_<name>")
    keep: KeepPolicy = Field(default_factory=KeepPolicy)
    column: str

    @property
    def reads(self) -> tuple[str, ...]:
        """Every column the step reads: its key column and the keep policy's signal."""
        return (self.column,) + ((self.keep.signal_column,) if self.keep.signal_column else ())


class PhashDedupStep(_Step):
    """Image near-duplicates: pHash Hamming distance <= radius_bits (multi-index hashing)."""

    method: Literal["phash"]
    column: str = "img_phash"
    radius_bits: int = Field(4, ge=0, le=MAX_RADIUS_BITS, description="k; 4 measured on real variants (docs/dedup.md)")


class ClipPhashDedupStep(_Step):
    """Clip near-duplicates: the pHash of each clip's middle keyframe (``video_clips.clip_phash``),
    Hamming distance <= radius_bits, exactly as image pHash. Rows are clips, keyed by ``clip_id``."""

    method: Literal["clip_phash"]
    column: str = "clip_phash"
    radius_bits: int = Field(4, ge=0, le=MAX_RADIUS_BITS, description="k, as for image pHash")


class MinhashDedupStep(_Step):
    """Text near-duplicates: MinHash LSH band keys and signatures from the ``txt_minhash`` operator."""

    method: Literal["minhash"]
    column: str = "txt_minhash_bands"
    signature_column: str = Field("txt_minhash_sig", description="signatures: Jaccard verification and history")
    key_type: str | None = Field(None, description="optional; derived from the txt_minhash op, and checked against it when given")
    jaccard_threshold: float | None = Field(None, gt=0, le=1, description="verify candidates by estimated Jaccard")
    _scheme: MinhashScheme | None = PrivateAttr(None)

    @property
    def reads(self) -> tuple[str, ...]:
        return super().reads + (self.signature_column,)

    @property
    def scheme(self) -> MinhashScheme:
        """The producing operator's scheme, set by recipe validation."""
        if self._scheme is None:
            raise RecipeError(
                f"dedup step {self.name!r}: MinHash scheme unknown; validate the recipe (spark_mm.recipe.validate) "
                "or call spark_mm.dedup.validate.bind_scheme(step, TxtMinhashParams(...))"
            )
        return self._scheme


class ExactDedupStep(_Step):
    """Exact duplicates by a 128-bit key column (``txt_exact_key``, ``img_exact_key``)."""

    method: Literal["exact"]


class UrlDedupStep(_Step):
    """URL duplicates by the canonical-URL key of the ``url_key`` operator."""

    method: Literal["url"]
    column: str = "url_key"


class UrlTextDedupStep(_Step):
    """Exact (image URL, alt text) pairs by the key of the ``url_text_key`` operator (LAION's pair dedup)."""

    method: Literal["url_text"]
    column: str = "url_text_key"


class SemdedupDedupStep(_Step):
    """Semantic near-duplicates (SemDeDup): k-means on unit embeddings, cosine >= 1 - eps inside clusters."""

    method: Literal["semdedup"]
    column: str = "img_clip_emb"
    n_clusters: int = Field(ge=1, description="k-means clusters; the reference code uses 50,000 for LAION-440M")
    eps: float = Field(gt=0, lt=1, description="pairs with cosine similarity >= 1 - eps are duplicates (docs/dedup.md)")
    seed: int = Field(1234, description="k-means seed (the reference code's 1234)")
    max_iter: int = Field(20, ge=1, description="k-means iterations")
    history: bool = Field(False, description="cross-run history is not supported for semdedup; must stay false")

    @field_validator("history")
    @classmethod
    def _no_history(cls, v: bool) -> bool:
        if v:
            raise ValueError(
                "cross-run history is not supported for method 'semdedup' (k-means clusters are fitted per run and "
                "dedup_keys stores no embeddings); set history: false or remove it. Each run dedups its new samples "
                "among themselves only; to dedup across crawls, run the step over the union of their tables"
            )
        return v


class ImageBasedDedupStep(_Step):
    """DataComp's image-based filter: keep samples whose nearest centroid (inner product) is a target cluster.

    Not a dedup in the duplicate sense; it lives under ``dedup:`` as SemDeDup does because it is a
    corpus-level step over an embedding column with centroids from outside the row. ``keep`` has
    no effect (no duplicate groups form). Targets: ``target_table`` or ``target_flag_column``.
    """

    method: Literal["image_based"]
    column: str = "img_clip_emb"
    centroids_table: str = Field(description="ns.table (or catalog.ns.table) with one row per centroid")
    centroid_id_column: str = "centroid_id"
    centroid_vector_column: str = "embedding"
    target_table: str | None = Field(None, description="table of target cluster ids (DataComp: the centroids nearest to ImageNet-1k)")
    target_id_column: str = "centroid_id"
    target_flag_column: str | None = Field(None, description="instead of target_table: a boolean column of the centroids table")
    normalize_centroids: bool = Field(False, description="L2-normalise the centroids first; DataComp does not (raw inner product)")

    @model_validator(mode="after")
    def _one_target_source(self) -> "ImageBasedDedupStep":
        if (self.target_table is None) == (self.target_flag_column is None):
            raise ValueError("give the target clusters as target_table or as target_flag_column (a column of centroids_table), exactly one")
        return self


DedupStep = Annotated[
    Union[PhashDedupStep, ClipPhashDedupStep, MinhashDedupStep, ExactDedupStep, UrlDedupStep, UrlTextDedupStep, SemdedupDedupStep, ImageBasedDedupStep],
    Field(discriminator="method"),
]
