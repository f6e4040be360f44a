"""The dedup method registry: a recipe's ``method`` resolves here, and nowhere else.

Each method pairs its Spark implementation with a version string (recorded in lineage as
``<method>@<version>``) and the projection of its history keys, which needs no candidate
generation: the dedup stage computes signals once and derives the keys it merges from its input.
An entry also says what its rows are (``rows``: samples by default, or a child table such as
``video_clips`` keyed by ``clip_id``; ``spark_mm.dedup.rows``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame

from spark_mm.dedup.dedup import DedupResult, exact_dedup, long_keys, url_dedup
from spark_mm.dedup.minhash import minhash_dedup, minhash_keys
from spark_mm.dedup.phash import CLIP_KEY_TYPE, phash_dedup, phash_keys
from spark_mm.dedup.rows import SAMPLES, VIDEO_CLIPS, DedupRows
from spark_mm.dedup.image_based import image_based_filter, load_centroids
from spark_mm.dedup.semantic import empty_keys, semdedup
from spark_mm.errors import RecipeError

RunFn = Callable[[Any, DataFrame, "DataFrame | None", "str | None"], DedupResult]
KeysFn = Callable[[Any, DataFrame], DataFrame]


@dataclass(frozen=True)
class DedupMethod:
    """One dedup method: its implementation, version, history-key projection and rows."""

    name: str
    version: str
    run: RunFn
    keys: KeysFn
    rows: DedupRows = field(default=SAMPLES)

    @property
    def lineage(self) -> str:
        return f"{self.name}@{self.version}"


def _phash(step: Any, df: DataFrame, history: DataFrame | None, run_id: str | None) -> DedupResult:
    return phash_dedup(df, phash_col=step.column, radius_bits=step.radius_bits, policy=step.keep, history=history, run_id=run_id)


def _clip_phash(step: Any, df: DataFrame, history: DataFrame | None, run_id: str | None) -> DedupResult:
    return phash_dedup(
        df, phash_col=step.column, radius_bits=step.radius_bits, policy=step.keep, history=history, run_id=run_id, key_type=CLIP_KEY_TYPE
    )


def _minhash(step: Any, df: DataFrame, history: DataFrame | None, run_id: str | None) -> DedupResult:
    return minhash_dedup(
        df, scheme=step.scheme, bands_col=step.column, sig_col=step.signature_column,
        jaccard_threshold=step.jaccard_threshold, policy=step.keep, history=history, run_id=run_id,
    )


def _exact(step: Any, df: DataFrame, history: DataFrame | None, run_id: str | None) -> DedupResult:
    return exact_dedup(df, key_col=step.column, name=step.name, policy=step.keep, history=history, run_id=run_id)


def _url(step: Any, df: DataFrame, history: DataFrame | None, run_id: str | None) -> DedupResult:
    return url_dedup(df, key_col=step.column, policy=step.keep, history=history, run_id=run_id)


def _url_text(step: Any, df: DataFrame, history: DataFrame | None, run_id: str | None) -> DedupResult:
    return exact_dedup(df, key_col=step.column, key_type="url_text", name="url_text", policy=step.keep, history=history, run_id=run_id)


def _semdedup(step: Any, df: DataFrame, history: DataFrame | None, run_id: str | None) -> DedupResult:
    # history is ignored on purpose: the step refuses ``history: true`` (docs/dedup.md).
    return semdedup(
        df, embedding_col=step.column, n_clusters=step.n_clusters, eps=step.eps, seed=step.seed, max_iter=step.max_iter, policy=step.keep
    )


def _image_based(step: Any, df: DataFrame, history: DataFrame | None, run_id: str | None) -> DedupResult:
    # a per-sample filter: no history to match (the stage only sends samples not yet in its table)
    centroids = load_centroids(
        df.sparkSession, step.centroids_table, id_column=step.centroid_id_column, vector_column=step.centroid_vector_column,
        target_table=step.target_table, target_id_column=step.target_id_column, target_flag_column=step.target_flag_column,
        normalize=step.normalize_centroids,
    )
    return image_based_filter(df, centroids, embedding_col=step.column)


METHODS: dict[str, DedupMethod] = {
    m.name: m
    for m in (
        DedupMethod("phash", "2", _phash, lambda step, df: phash_keys(df, phash_col=step.column)),
        DedupMethod(
            "clip_phash", "1", _clip_phash, lambda step, df: phash_keys(df, phash_col=step.column, key_type=CLIP_KEY_TYPE), rows=VIDEO_CLIPS
        ),
        DedupMethod(
            "minhash", "2", _minhash,
            lambda step, df: minhash_keys(df, scheme=step.scheme, bands_col=step.column, sig_col=step.signature_column),
        ),
        DedupMethod("exact", "2", _exact, lambda step, df: long_keys(df, step.column, step.column)),
        DedupMethod("url", "2", _url, lambda step, df: long_keys(df, step.column, "url")),
        DedupMethod("url_text", "1", _url_text, lambda step, df: long_keys(df, step.column, "url_text")),
        DedupMethod("semdedup", "1", _semdedup, lambda step, df: empty_keys(df.sparkSession)),
        DedupMethod("image_based", "1", _image_based, lambda step, df: empty_keys(df.sparkSession)),
    )
}
"""Version 2: verified keep choice, history that survives knob changes, ``missing_input``."""


def method_of(step: Any) -> DedupMethod:
    """The registered method of a validated step."""
    try:
        return METHODS[step.method]
    except KeyError:
        raise RecipeError(f"unknown dedup method {step.method!r}; accepted: {sorted(METHODS)}") from None
