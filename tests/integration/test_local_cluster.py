"""The z_image job unchanged on local-cluster (two executor JVMs) gives identical results.

Runs ``spark-submit jobs/z_image.py`` in its own process, as a user would on a cluster: nothing
may rely on driver-local state, and executors must find the package, jars and warehouse.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

REPO = Path(__file__).resolve().parents[2]
# Columns that name the run that wrote a row: they differ between the two runs by design.
RUN_COLUMNS = frozenset({"run_id", "ingest_run_id", "first_seen_run"})


def run_job(master: str, namespace: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SPARK_MM_HOME=str(home), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"), "--master", master,
        "--conf", "spark.executor.memory=1g", "--conf", "spark.ui.enabled=false",
        str(REPO / "jobs" / "z_image.py"), "--recipe", str(REPO / "conf" / "z_image.yaml"),
        "--set", f"namespace={namespace}", "--set", "lake.buckets=4", "--set", "tracking.enabled=false", "--run-id", f"{namespace}-run",
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)


def comparable(frame: DataFrame) -> DataFrame:
    """Every column but the run's name; maps as sorted entry arrays (Spark cannot hash or diff maps)."""
    cols = []
    for f in frame.schema.fields:
        if f.name in RUN_COLUMNS:
            continue
        c = F.col(f"`{f.name}`")
        cols.append((F.array_sort(F.map_entries(c)) if isinstance(f.dataType, T.MapType) else c).alias(f.name))
    return frame.select(*cols)


def digest(frame: DataFrame, ns: str, name: str) -> DataFrame:
    """One row: namespace, table, the row count and an order-free sum of the rows' 64-bit hashes."""
    row_hash = F.xxhash64(*[F.col(f"`{c}`") for c in frame.columns]).cast("decimal(38,0)")
    return frame.agg(F.lit(ns).alias("ns"), F.lit(name).alias("name"), F.count(F.lit(1)).alias("rows"), F.sum(row_hash).alias("h"))


def tables(spark: SparkSession, ns: str) -> set[str]:
    """The namespace's data tables (not the run lease's, which hold no rows and name their run)."""
    from spark_mm.lake.lease import is_lease_table

    return {r["tableName"] for r in spark.sql(f"SHOW TABLES IN lake.{ns}").collect() if not r["isTemporary"] and not is_lease_table(r["tableName"])}


@pytest.mark.cluster
def test_z_image_on_local_cluster_matches_local(first_run, spark: SparkSession, lake_home: Path) -> None:  # type: ignore[no-untyped-def]
    cluster = run_job("local-cluster[2,1,2048]", "zi_cluster", lake_home)
    assert cluster.returncode == 0, cluster.stderr[-3000:]
    assert "image_cpu" in cluster.stdout and "rows in" in cluster.stdout

    # zi: the same job run in-process on local[2]. Same tables, and in each the same rows, every
    # column compared (payloads, signals, embeddings, errors, dedup clusters and keys).
    names = tables(spark, "zi")
    assert names == tables(spark, "zi_cluster")
    assert {"samples", "signals_image_cpu", "signals_image_models", "dedup_image_phash", "dedup_keys"} <= names
    frames = {(ns, name): comparable(spark.table(f"lake.{ns}.{name}")) for ns in ("zi", "zi_cluster") for name in names}
    # one Spark job for all of them: per table and namespace, the row count and an order-free hash sum
    digests = [digest(frame, ns, name) for (ns, name), frame in frames.items()]
    got = {(r["ns"], r["name"]): (r["rows"], r["h"]) for r in functools.reduce(DataFrame.unionByName, digests).collect()}
    for name in sorted(names):
        local, remote = frames["zi", name], frames["zi_cluster", name]
        assert local.columns == remote.columns, name
        if got["zi", name] != got["zi_cluster", name]:  # only on failure: name the differing rows
            only_local = local.exceptAll(remote).limit(3).collect()
            only_cluster = remote.exceptAll(local).limit(3).collect()
            pytest.fail(f"{name} differs: {got['zi', name]} vs {got['zi_cluster', name]}; only on local[2]: {only_local}; only on local-cluster: {only_cluster}")
        # per-sample tables hold the 156 samples; dedup_keys one full pHash per kept image
        assert got["zi", name][0] > (20 if name == "dedup_keys" else 100), (name, got["zi", name])

    ids = spark.sql("SELECT count(*) FROM lake.zi_cluster.samples s JOIN lake.zi.samples l USING (sample_id)").first()[0]
    assert ids == spark.table("lake.zi.samples").count()
    app = spark.sql("SELECT summary['spark.app.id'] FROM lake.zi_cluster.signals_image_cpu.snapshots").first()[0]
    assert app.startswith("app-"), app  # a standalone (local-cluster) application id, not local-*
