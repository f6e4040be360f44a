"""DataComp's image-based filter (Gadre et al. 2023): keep samples whose nearest centroid is a target.

DataComp clusters the pool's OpenAI CLIP ViT-L/14 image embeddings into 100,000 k-means centroids,
marks the centroids nearest to ImageNet-1k training image embeddings as targets, and keeps a pool
sample when its own nearest centroid is one of them. "Nearest" is DataComp's
``get_centroid_ids_gpu``: ``argmax`` of the inner product ``features @ centroids.T``, where the
features are unit vectors (DataComp's stored embeddings are L2-normalised) and the centroids are
used as stored (faiss k-means means, not renormalised).

Here the centroids and the target set come from Iceberg tables the user provides. The centroid
matrix is broadcast once; a ``mapInArrow`` pass normalises each batch of embeddings in numpy,
multiplies by the centroid matrix in row blocks and takes the argmax (ties: the smallest
``centroid_id``, numpy's first maximum over centroids sorted by id). Nothing is shuffled.

Signals per sample (rows in = rows out): ``nearest_centroid`` (the centroid id), ``in_target``,
and the dedup columns the dedup stage and curation read: ``dup_keep = in_target``,
``dup_reason`` ``not_in_target`` or ``missing_input`` (null, empty, zero-norm or non-finite
embedding, which gets no centroid), ``dup_cluster_id = sample_id`` and ``dup_cluster_size = 1``
(a filter forms no duplicate groups). ``keys`` is empty: there is no history to match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.dedup.dedup import DedupResult
from spark_mm.dedup.policy import DupReason
from spark_mm.dedup.semantic import empty_keys
from spark_mm.errors import ConfigError

KEY_TYPE = "image_based"
_BLOCK_ELEMENTS = 1 << 24
"""Similarity entries computed at once (rows of a batch x centroids): 64 MiB of float32."""


@dataclass(frozen=True)
class Centroids:
    """Centroids sorted by id, and which ids are targets."""

    ids: np.ndarray
    matrix: np.ndarray
    targets: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


def build_centroids(ids: list[int], vectors: list[list[float]], targets: set[int], *, normalize: bool = False) -> Centroids:
    """Sort by id, check shapes, optionally L2-normalise (DataComp does not).

    >>> c = build_centroids([5, 2], [[0.0, 2.0], [1.0, 0.0]], {5})
    >>> c.ids.tolist(), c.targets.tolist(), c.dim
    ([2, 5], [5], 2)
    """
    if not ids:
        raise ConfigError("image_based: the centroids table is empty")
    if len(set(ids)) != len(ids):
        raise ConfigError("image_based: centroid ids are not unique")
    lengths = {len(v) if v is not None else 0 for v in vectors}
    if len(lengths) != 1 or 0 in lengths:
        raise ConfigError(f"image_based: centroid vectors must all have one non-zero length; found {sorted(lengths)}")
    order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
    matrix = np.asarray(vectors, dtype=np.float32)[order]
    if not np.isfinite(matrix).all():
        raise ConfigError("image_based: centroid vectors hold NaN or infinite values")
    if normalize:
        norm = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.where(norm > 0, norm, 1.0)
    unknown = set(targets) - set(ids)
    if unknown:
        raise ConfigError(f"image_based: target cluster ids not in the centroids table: {sorted(unknown)[:10]}")
    return Centroids(np.asarray(ids, dtype=np.int64)[order], matrix, np.asarray(sorted(targets), dtype=np.int64))


def nearest(units: np.ndarray, centroids: Centroids) -> np.ndarray:
    """Centroid id of the maximum inner product for each row of ``units`` (computed in row blocks).

    >>> c = build_centroids([0, 1], [[1.0, 0.0], [0.0, 1.0]], set())
    >>> nearest(np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32), c).tolist()
    [0, 1]
    """
    out = np.empty(len(units), dtype=np.int64)
    block = max(1, _BLOCK_ELEMENTS // max(1, len(centroids.ids)))
    for s in range(0, len(units), block):
        out[s : s + block] = centroids.ids[np.argmax(units[s : s + block] @ centroids.matrix.T, axis=1)]
    return out


def _assign(centroids_bc):  # type: ignore[no-untyped-def]
    """``mapInArrow`` function: ``(sample_id, emb)`` batches -> ``(sample_id, nearest_centroid, in_target)``."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        c: Centroids = centroids_bc.value
        for b in batches:
            emb = b.column(1)
            n = len(emb)
            lengths = np.diff(emb.offsets.to_numpy()) if n else np.zeros(0, dtype=np.int64)
            present = emb.is_valid().to_numpy(zero_copy_only=False)
            wrong = present & (lengths > 0) & (lengths != c.dim)
            if wrong.any():  # another model's embeddings: a configuration error, not a bad row
                raise ValueError(f"image_based: embeddings of size {sorted(set(lengths[wrong].tolist()))} do not match the centroids' size {c.dim}")
            valid = present & (lengths == c.dim)
            near = np.zeros(n, dtype=np.int64)
            ok = np.zeros(n, dtype=bool)
            if valid.any():
                x = emb.filter(pa.array(valid)).flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, c.dim)
                norm = np.linalg.norm(x, axis=1)
                good = np.isfinite(norm) & (norm > 0)
                idx = np.flatnonzero(valid)[good]
                near[idx] = nearest(x[good] / norm[good, None], c)
                ok[idx] = True
            mask = ~ok
            yield pa.RecordBatch.from_arrays(
                [b.column(0), pa.array(near, pa.int64(), mask=mask), pa.array(np.isin(near, c.targets), pa.bool_(), mask=mask)],
                ["sample_id", "nearest_centroid", "in_target"],
            )

    return run


def assign_nearest(df: DataFrame, centroids: Centroids, *, embedding_col: str, id_col: str = "sample_id") -> DataFrame:
    """``(sample_id, nearest_centroid, in_target)`` for every row; nulls where the embedding is unusable."""
    bc = df.sparkSession.sparkContext.broadcast(centroids)
    raw = df.select(F.col(id_col).cast("string").alias("sample_id"), F.col(embedding_col))
    return raw.mapInArrow(_assign(bc), "sample_id string, nearest_centroid long, in_target boolean")


def load_centroids(
    spark: SparkSession,
    table: str,
    *,
    id_column: str = "centroid_id",
    vector_column: str = "embedding",
    target_table: str | None = None,
    target_id_column: str = "centroid_id",
    target_flag_column: str | None = None,
    normalize: bool = False,
) -> Centroids:
    """Read the centroids (small: DataComp's are 100,000 x 768) and the target ids to the driver.

    Targets come from ``target_table`` (one id per row) or a boolean ``target_flag_column`` of the
    centroids table; exactly one of them.

    Raises:
        ConfigError: a column is missing, both or neither target source are given, or the
            centroids are malformed (see :func:`build_centroids`).
    """
    if (target_table is None) == (target_flag_column is None):
        raise ConfigError("image_based: give the target clusters as target_table or as target_flag_column, exactly one")
    frame = spark.table(table)
    needed = [id_column, vector_column] + ([target_flag_column] if target_flag_column else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ConfigError(f"image_based: columns {missing} not in {table}; columns: {sorted(frame.columns)}")
    rows = frame.select(
        F.col(id_column).cast("long"), F.col(vector_column), *([F.coalesce(F.col(target_flag_column), F.lit(False))] if target_flag_column else [])
    ).collect()
    ids = [int(r[0]) for r in rows]
    vectors = [list(r[1]) if r[1] is not None else None for r in rows]
    if target_flag_column:
        targets = {int(r[0]) for r in rows if r[2]}
    else:
        assert target_table is not None
        t = spark.table(target_table)
        if target_id_column not in t.columns:
            raise ConfigError(f"image_based: column {target_id_column!r} not in {target_table}; columns: {sorted(t.columns)}")
        targets = {int(r[0]) for r in t.select(F.col(target_id_column).cast("long")).where(F.col(target_id_column).isNotNull()).distinct().collect()}
    return build_centroids(ids, vectors, targets, normalize=normalize)  # type: ignore[arg-type]


def target_clusters(reference: DataFrame, centroids: Centroids, *, embedding_col: str) -> DataFrame:
    """DataComp's target set from reference embeddings (its ImageNet-1k train images): their distinct nearest centroids.

    Write the result as the step's ``target_table``: ``(centroid_id)``.
    """
    with_id = reference.select(F.monotonically_increasing_id().cast("string").alias("sample_id"), F.col(embedding_col))
    near = assign_nearest(with_id, centroids, embedding_col=embedding_col)
    return near.where(F.col("nearest_centroid").isNotNull()).select(F.col("nearest_centroid").alias("centroid_id")).distinct()


def image_based_filter(df: DataFrame, centroids: Centroids, *, embedding_col: str, id_col: str = "sample_id") -> DedupResult:
    """Signals of every sample: nearest centroid, in_target, and ``dup_keep = in_target`` (module doc)."""
    if df.schema[id_col].dataType != T.StringType():
        df = df.withColumn(id_col, F.col(id_col).cast("string"))
    near = assign_nearest(df, centroids, embedding_col=embedding_col, id_col=id_col)
    sig = near.select(
        "sample_id",
        "nearest_centroid",
        "in_target",
        F.col("sample_id").alias("dup_cluster_id"),
        F.lit(1).alias("dup_cluster_size"),
        F.coalesce(F.col("in_target"), F.lit(False)).alias("dup_keep"),
        F.when(F.col("nearest_centroid").isNull(), F.lit(DupReason.MISSING_INPUT.value))
        .when(~F.col("in_target"), F.lit(DupReason.NOT_IN_TARGET.value))
        .otherwise(F.lit(None).cast("string"))
        .alias("dup_reason"),
    )
    return DedupResult(KEY_TYPE, KEY_TYPE, sig, empty_keys(df.sparkSession))
