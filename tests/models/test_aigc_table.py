"""``spark-mm train-aigc``: fit the AIGC head from labelled embeddings in an Iceberg table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession

from spark_mm.errors import ConfigError
from spark_mm.models.aigc_table import load_labelled, train_from_table


@pytest.fixture(scope="module")
def labelled(spark: SparkSession) -> str:
    rng = np.random.default_rng(0)
    real = rng.normal(0.0, 1.0, (60, 16)) + 2.0
    fake = rng.normal(0.0, 1.0, (60, 16)) - 2.0
    rows = [(f"{i:032x}", [float(v) for v in e], int(i >= 60)) for i, e in enumerate(np.vstack([real, fake]))]
    rows.append(("f" * 32, None, 1))  # unlabelled / missing embedding rows are skipped
    spark.sql("CREATE NAMESPACE IF NOT EXISTS aigc")
    spark.createDataFrame(rows, "sample_id string, img_siglip2_emb array<float>, label int").writeTo("lake.aigc.labelled").createOrReplace()
    return "aigc.labelled"


def test_trains_a_head_that_separates_the_classes(spark: SparkSession, labelled: str, tmp_path: Path) -> None:
    from safetensors import safe_open

    out = train_from_table(spark, labelled, "img_siglip2_emb", "label", tmp_path / "head.safetensors", hidden=0, epochs=100)
    with safe_open(str(out), framework="pt") as fh:
        meta = fh.metadata()
    assert int(meta["in_dim"]) == 16
    assert json.loads(meta["metrics"])["val_accuracy"] >= 0.9


def test_bad_columns_and_labels_fail_clearly(spark: SparkSession, labelled: str) -> None:
    with pytest.raises(ConfigError, match="column 'emb' not in"):
        load_labelled(spark, labelled, "emb", "label")
    x, y = load_labelled(spark, labelled, "img_siglip2_emb", "label")
    assert x.shape == (120, 16) and set(y) == {0, 1}
    spark.sql("CREATE TABLE lake.aigc.bad_labels AS SELECT sample_id, img_siglip2_emb, label + 1 AS label FROM lake.aigc.labelled")
    with pytest.raises(ConfigError, match=r"must be 0 \(real\) or 1"):
        load_labelled(spark, "aigc.bad_labels", "img_siglip2_emb", "label")
