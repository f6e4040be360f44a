"""Fit the AIGC head from labelled embeddings stored in an Iceberg table (``spark-mm train-aigc``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_mm.errors import ConfigError


def load_labelled(spark: SparkSession, table: str, embedding_column: str, label_column: str, where: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings (n, dim) float32, labels (n,) int) from a table; rows with a null on either side are skipped.

    Raises:
        ConfigError: a column is missing, labels are not 0/1, or embeddings differ in length.
    """
    frame = spark.table(table)
    for col in (embedding_column, label_column):
        if col not in frame.columns:
            raise ConfigError(f"train-aigc: column {col!r} not in {table}; columns: {sorted(frame.columns)}")
    frame = frame.where(F.col(embedding_column).isNotNull() & F.col(label_column).isNotNull())
    if where:
        frame = frame.where(where)
    arrow = frame.select(F.col(embedding_column).alias("emb"), F.col(label_column).cast("int").alias("label")).toArrow()
    if arrow.num_rows == 0:
        raise ConfigError(f"train-aigc: no labelled rows in {table}")
    emb = arrow.column("emb").combine_chunks()
    lengths = set(pa.compute.list_value_length(emb).to_pylist())
    if len(lengths) != 1:
        raise ConfigError(f"train-aigc: embeddings in {embedding_column!r} have different lengths {sorted(lengths)}")
    dim = lengths.pop()
    x = np.asarray(emb.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dim)
    y = np.asarray(arrow.column("label").to_numpy(), dtype=np.int64)
    if not set(np.unique(y)) <= {0, 1}:
        raise ConfigError(f"train-aigc: {label_column!r} must be 0 (real) or 1 (AI-generated); found {sorted(set(np.unique(y)))}")
    return x, y


def train_from_table(spark: SparkSession, table: str, embedding_column: str, label_column: str, out: str | Path, *, where: str | None = None, hidden: int = 256, epochs: int = 200, seed: int = 0) -> Path:
    """Train the head (``spark_mm.models.aigc_train.train``) on a table's labelled embeddings."""
    from spark_mm.models.aigc_train import train

    x, y = load_labelled(spark, table, embedding_column, label_column, where)
    return train(x, y, out, hidden=hidden, epochs=epochs, seed=seed)
