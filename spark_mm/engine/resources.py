"""Stage-level scheduling: GPU stages get a Spark ResourceProfile where the master supports one."""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)
_warned: set[object] = set()


def supports_stage_profiles(spark: SparkSession) -> bool:
    """Spark refuses task resource profiles in ``local``/``local[*]``; standalone, local-cluster, YARN and K8s accept them."""
    master = spark.sparkContext.master
    return not (master == "local" or master.startswith("local["))


def cluster_has_gpus(spark: SparkSession) -> bool:
    """Whether executors are configured with GPUs (``spark.executor.resource.gpu.amount``)."""
    amount = spark.sparkContext.getConf().get("spark.executor.resource.gpu.amount", "0")
    try:
        return float(amount) > 0
    except ValueError:
        return False


def gpu_profile(spark: SparkSession, stage: str, gpus_per_task: float, cpus_per_task: int):  # type: ignore[no-untyped-def]
    """A task-level profile asking for ``gpus_per_task`` GPUs, or None (logged once) when the master
    cannot schedule by profile or the executors have no GPUs (the stage then runs on the CPU)."""
    master = spark.sparkContext.master
    if not supports_stage_profiles(spark):
        if master not in _warned:
            _warned.add(master)
            # INFO, not WARNING: local[*] is the embedded default and the run summary's note on
            # the stage already says it ran on the CPU. A cluster without GPUs (below) still warns.
            log.info("master %s does not support stage-level scheduling: GPU stage %r runs without a resource profile", master, stage)
        return None
    if not cluster_has_gpus(spark):
        if ("no-gpus", master) not in _warned:
            _warned.add(("no-gpus", master))  # type: ignore[arg-type]
            log.warning("executors have no GPUs (spark.executor.resource.gpu.amount unset): GPU stage %r runs on the CPU without a profile", stage)
        return None
    from pyspark.resource import ResourceProfileBuilder, TaskResourceRequests

    requests = TaskResourceRequests().cpus(cpus_per_task).resource("gpu", gpus_per_task)
    return ResourceProfileBuilder().require(requests).build
