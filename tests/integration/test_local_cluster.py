"""The z_image job unchanged on local-cluster (two executor JVMs) gives identical results.

Runs ``spark-submit jobs/z_image.py`` in its own process, as a user would on a cluster: nothing
may rely on driver-local state, and executors must find the package, jars and warehouse.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[2]
SIGNALS = "img_width, img_height, img_format, img_mode, img_channels, img_exif_orientation, img_bytes, errors"


def run_job(master: str, namespace: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SPARK_MM_HOME=str(home), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"), "--master", master,
        "--conf", "spark.executor.memory=1g", "--conf", "spark.ui.enabled=false",
        str(REPO / "jobs" / "z_image.py"), "--recipe", str(REPO / "conf" / "z_image.yaml"),
        "--set", f"namespace={namespace}", "--set", "lake.buckets=4", "--set", "tracking.enabled=false", "--run-id", f"{namespace}-run",
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)


@pytest.mark.cluster
def test_z_image_on_local_cluster_matches_local(first_run, spark: SparkSession, lake_home: Path) -> None:  # type: ignore[no-untyped-def]
    cluster = run_job("local-cluster[2,1,2048]", "zi_cluster", lake_home)
    assert cluster.returncode == 0, cluster.stderr[-3000:]
    assert "image_cpu" in cluster.stdout and "rows in" in cluster.stdout
    executors = spark.sql("SELECT 1")  # the session fixture reads what the two jobs committed
    assert executors is not None

    def snapshot(ns: str) -> list[tuple]:  # type: ignore[type-arg]
        rows = spark.sql(f"SELECT sample_id, {SIGNALS} FROM lake.{ns}.signals_image_cpu ORDER BY sample_id").collect()
        return [tuple(r) for r in rows]

    a, b = snapshot("zi"), snapshot("zi_cluster")  # zi: the same job run in-process on local[2]
    assert len(a) == len(b) > 100
    assert a == b
    ids = spark.sql("SELECT count(*) FROM lake.zi_cluster.samples s JOIN lake.zi.samples l USING (sample_id)").first()[0]
    assert ids == len(a)
    app = spark.sql("SELECT summary['spark.app.id'] FROM lake.zi_cluster.signals_image_cpu.snapshots").first()[0]
    assert app.startswith("app-"), app  # a standalone (local-cluster) application id, not local-*
