"""The report counts an image that does not decode as rejected by the quality filter.

The z_image CPU stage runs on real payloads (truncated JPEG, bomb header, empty, garbage, null)
through ``apply_ops``; its output goes into a real Iceberg table and the report reads it back.
One Spark query pass, several asserts.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.engine.context import StageResult
from spark_mm.engine.plan import StagePlan, apply_ops
from spark_mm.engine.runner import RunResult
from spark_mm.ops.base import Resource
from spark_mm.recipe import LoadedRecipe
from spark_mm.report.metrics import OperatorMetrics, collect_metrics

from tests.ops.bad_images import EXPECTED, image_batch, image_stage_ops

NS = "ops_unusable"
RUN = "run-unusable"


def _snapshot(spark: SparkSession, table: str) -> int:
    return int(spark.sql(f"SELECT snapshot_id FROM {table}.snapshots ORDER BY committed_at DESC LIMIT 1").first()[0])


@pytest.fixture(scope="module")
def quality(spark: SparkSession) -> OperatorMetrics:
    ops = image_stage_ops()
    plan = StagePlan("image_cpu", ops, Resource.CPU)
    batch = image_batch()
    out = apply_ops(plan.name, plan.operators(), batch, plan.output_schema(), RUN)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{NS}")
    signals, samples = f"lake.{NS}.signals_image_cpu", f"lake.{NS}.samples"
    for t in (signals, samples):
        spark.sql(f"DROP TABLE IF EXISTS {t}")
    spark.createDataFrame(pa.Table.from_batches([out])).writeTo(signals).using("iceberg").create()
    n = batch.num_rows
    raw = pa.table({
        "sample_id": batch.column("sample_id"),
        "image": batch.column("image"),
        "caption": pa.nulls(n, pa.string()),
        "ingest_run_id": pa.array([RUN] * n),
        "ingest_error": pa.nulls(n, pa.string()),
    })
    spark.createDataFrame(raw).writeTo(samples).using("iceberg").create()
    result = RunResult(
        RUN, "z_image", NS, "lake",
        [
            StageResult("ingest", samples, n, n, 0, 1.0, _snapshot(spark, samples)),
            StageResult("image_cpu", signals, n, n, n - 1, 1.0, _snapshot(spark, signals)),
        ],
    )
    raw_recipe = {
        "job": "z_image", "namespace": NS, "source": {"type": "sample_images"},
        "stages": [{"name": "image_cpu", "ops": [p.model_dump() for p in ops]}],
    }
    loaded = LoadedRecipe(recipe=recipes.validate(raw_recipe), text="job: z_image\n", sha256="0" * 64)
    metrics = collect_metrics(spark, result, loaded)
    assert metrics.kept_rows == 1
    return next(o for o in metrics.operators if o.name == "img_quality_filter")


def test_undecodable_images_count_as_rejected(quality: OperatorMetrics) -> None:
    assert (quality.rows, quality.passed, quality.rejected, quality.undecided) == (6, 1, 5, 0)
    assert (quality.funnel_in, quality.funnel_out) == (6, 1)
    expected = {}
    for _, reason in EXPECTED.values():
        if reason is not None:
            expected[reason] = expected.get(reason, 0) + 1
    assert {r.reason: r.count for r in quality.reasons} == expected == {"decode_error": 4, "missing_input": 1}


def test_the_filter_writes_no_errors(quality: OperatorMetrics) -> None:
    assert quality.errors == 0
