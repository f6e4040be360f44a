"""spark-submit script for the GPU-scheduling test: a GPU stage under its resource profile.

Part 1 runs a mapInArrow with the engine's GPU profile and records, per task, the GPU addresses
Spark assigned and what ``select_device`` made of them. Part 2 runs a real recipe GPU stage
(img_nsfw) through the Runner and prints its stage note. Output: one JSON line prefixed PROBE.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pyarrow as pa


def probe(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    from pyspark import TaskContext

    from spark_mm.engine.device import select_device, task_gpu_addresses

    ctx = TaskContext.get()
    choice = select_device()
    for batch in batches:
        n = batch.num_rows
        yield pa.record_batch(
            {
                "partition": pa.array([ctx.partitionId()] * n, pa.int32()),
                "addresses": pa.array([",".join(task_gpu_addresses())] * n),
                "device": pa.array([choice.device] * n),
                "cuda": pa.array([choice.cuda_available] * n),
            }
        )


def main(recipe_path: str, home_ns: str) -> None:
    from spark_mm import recipe as recipes
    from spark_mm.engine.resources import gpu_profile
    from spark_mm.engine.runner import Runner
    from spark_mm.engine.session import build_session

    loaded = recipes.load(recipe_path, [f"namespace={home_ns}", "lake.buckets=4", "tracking.enabled=false"])
    spark = build_session(loaded.recipe.lake, loaded.recipe.spark, app_name="gpu-probe")
    profile = gpu_profile(spark, "probe", 1.0, 1)
    df = spark.range(0, 8, numPartitions=4).selectExpr("id")
    rows = df.mapInArrow(probe, "partition int, addresses string, device string, cuda boolean", profile=profile).distinct().collect()
    result = Runner(loaded, run_id="gpu-probe", spark=spark).run()
    gpu_stage = [s for s in result.stages if s.stage == "image_models"][0]
    print("PROBE " + json.dumps({
        "profile": profile is not None,
        "tasks": [r.asDict() for r in rows],
        "stage_note": gpu_stage.note,
        "stage_rows": [gpu_stage.rows_in, gpu_stage.rows_out],
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
