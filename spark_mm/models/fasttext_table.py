"""Train a fastText quality classifier from Iceberg tables (``spark-mm train-fasttext``).

Positives come from one SQL query and negatives from another, as DCLM took OpenHermes-2.5 +
ELI5 against RefinedWeb. Each query is pinned to its tables' current snapshots
(:func:`spark_mm.lake.pinning.pin_query`) and streamed to the driver with ``toLocalIterator``
(one partition at a time, never the whole result), straight into the split files of
:func:`spark_mm.models.fasttext_train.write_split`. The model file gets a lineage file beside it:
``<model>.lineage.json`` with the tables @ snapshot ids, the query texts, the counts per label and
the validation metrics.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_mm.errors import ConfigError
from spark_mm.lake.lineage import code_version
from spark_mm.lake.pinning import PinnedQuery, pin_query
from spark_mm.models.fasttext_train import (
    NEGATIVE,
    POSITIVE,
    FasttextHyperparams,
    LabelCounts,
    Validation,
    scratch_dir,
    train_files,
    trainer_version,
    write_split,
)

LINEAGE_FORMAT = "spark-mm.fasttext-train/1"
TEXT_PREPARATION = "dclm_text: ' '.join(text.strip().splitlines()) (spark_mm.ops.model_fasttext, as txt_fasttext_quality scores)"


@dataclass(frozen=True)
class FasttextTrainResult:
    """What ``train-fasttext`` wrote: the model, its lineage file, counts and validation metrics."""

    model: Path
    lineage: Path
    counts: dict[str, LabelCounts]
    validation: Validation
    inputs: dict[str, PinnedQuery]


def lineage_path(model: str | Path) -> Path:
    """``<model>.lineage.json`` beside the model.

    >>> str(lineage_path("out/quality.bin"))
    'out/quality.bin.lineage.json'
    """
    model = Path(model)
    return model.with_name(model.name + ".lineage.json")


def _texts(frame: DataFrame, text_column: str, query: str) -> Iterator[str | None]:
    if text_column not in frame.columns:
        if len(frame.columns) != 1:
            raise ConfigError(f"train-fasttext: the query selects no column {text_column!r} (columns {frame.columns}): {query!r}")
        text_column = frame.columns[0]
    for row in frame.select(F.col(text_column).cast("string")).toLocalIterator(prefetchPartitions=True):
        yield row[0]


def train_from_queries(
    spark: SparkSession,
    positive_query: str,
    negative_query: str,
    out: str | Path,
    *,
    text_column: str = "txt_content",
    params: FasttextHyperparams = FasttextHyperparams(),
    val_fraction: float = 0.1,
    split_seed: int = 42,
    positive_label: str = POSITIVE,
    negative_label: str = NEGATIVE,
    scratch: str | Path | None = None,
) -> FasttextTrainResult:
    """Train the classifier on the two queries' texts and write the model plus its lineage.

    Args:
        spark: the session (its catalogs resolve the queries).
        positive_query / negative_query: Spark SQL; each selects ``text_column`` (or exactly one column).
        out: the ``.bin`` to write; ``<out>.lineage.json`` is written beside it.
        text_column: the text column of both queries.
        params: fastText hyperparameters (DCLM's by default).
        val_fraction: share of texts held out (hash of seed and text) for the validation metrics.
        split_seed: seeds the split and the training order (DCLM's script seeds with 42).
        positive_label / negative_label: DCLM's ``__label__hq`` / ``__label__cc``.
        scratch: where the temporary split files go (default: the system temp folder).

    Raises:
        ConfigError: a query reads no Iceberg table or cannot be pinned, lacks the text column,
            or a label ends up without training lines.
    """
    if positive_label == negative_label:
        raise ConfigError(f"positive and negative labels must differ; both are {positive_label!r}")
    inputs = {positive_label: pin_query(spark, positive_query), negative_label: pin_query(spark, negative_query)}
    frames = {label: spark.sql(p.pinned) for label, p in inputs.items()}
    with scratch_dir(scratch) as tmp:
        split = write_split(
            ((label, _texts(frames[label], text_column, inputs[label].query)) for label in (positive_label, negative_label)),
            Path(tmp), val_fraction=val_fraction, seed=split_seed,
        )
        model, validation = train_files(split, out, params, positive_label)
    lineage = lineage_path(model)
    record = {
        "format": LINEAGE_FORMAT,
        "model": model.name,
        "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "trainer": trainer_version(),
        "positive_label": positive_label,
        "labels": {
            label: {
                "query": p.query,
                "pinned_query": p.pinned,
                "tables": [{"table": t.table, "snapshot_id": t.snapshot_id, "pinned_by_query": t.pinned_by_query} for t in p.tables],
                "counts": asdict(split.counts[label]),
            }
            for label, p in inputs.items()
        },
        "text_column": text_column,
        "text_preparation": TEXT_PREPARATION,
        "split": {"method": "blake2b(seed, prepared text)", "seed": split_seed, "val_fraction": val_fraction},
        "hyperparameters": params.model_dump(),
        "validation": asdict(validation),
    }
    lineage.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    return FasttextTrainResult(model, lineage, split.counts, validation, inputs)
