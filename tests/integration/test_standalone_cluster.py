"""``spark-submit jobs/z_image.py`` to a real Spark standalone cluster (a master and two workers
launched with ``spark-class``), tables on the REST catalog + S3 stack, the package shipped as an
archive: every table equals the embedded run of the same input (``first_run``).

The shipping is proven, not assumed: the workers' environment has no ``PYTHONPATH`` and the
executors' Python writes its bytecode under a cache prefix (``PYTHONPYCACHEPREFIX``), which mirrors
the path of every source file they imported. Every spark_mm module they imported must lie in the
archive unpacked under a worker's work dir, none in the checkout or the ``.venv``'s editable path.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from spark_mm.devstack import object_store, ship, spark_cluster
from spark_mm.lake.lease import is_lease_table
from tests.integration.test_local_cluster import comparable, digest

REPO = Path(__file__).resolve().parents[2]
NS = "zi_standalone"  # not first_run's "zi": the shared REST catalog may already hold zi (test_rest_object_store)


def _tables(spark: SparkSession, catalog: str, ns: str) -> set[str]:
    return {r["tableName"] for r in spark.sql(f"SHOW TABLES IN {catalog}.{ns}").collect() if not r["isTemporary"] and not is_lease_table(r["tableName"])}


def _imported_sources(prefix: Path, package: str) -> set[Path]:
    """Source files of ``package`` whose bytecode Python wrote under the cache ``prefix``.

    ``<prefix>/<abs dir>/<mod>.cpython-XY.pyc`` is the bytecode of ``/<abs dir>/<mod>.py``.
    """
    found = set()
    for pyc in prefix.rglob("*.pyc"):
        source = Path("/") / pyc.parent.relative_to(prefix) / (pyc.name.split(".")[0] + ".py")
        if package in source.parts:
            found.add(source)
    return found


@pytest.fixture(scope="module")
def submitted(standalone: spark_cluster.SparkCluster, stack, stack_catalog: str, lake_home: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One spark-submit of jobs/z_image.py to the standalone master; (process, seconds, pyc prefix)."""
    work = tmp_path_factory.mktemp("standalone_submit")
    archive = ship.pack(work / "spark_mm_pkg.zip")
    prefix = work / "executor_pycache"
    bin_dir = Path(sys.executable).parent
    # the driver: this checkout (client mode), loopback, the store's credentials in its environment
    env = dict(os.environ, SPARK_MM_HOME=str(lake_home), SPARK_LOCAL_IP="127.0.0.1", PATH=f"{bin_dir}:{os.environ['PATH']}", **object_store.credentials_env())
    cmd = [
        str(bin_dir / "spark-submit"), "--master", standalone.master_url, "--deploy-mode", "client",
        *ship.submit_args(archive, python=sys.executable),
        "--conf", "spark.executor.memory=1g", "--conf", "spark.executor.cores=1", "--conf", "spark.cores.max=2",
        "--conf", "spark.ui.enabled=false",
        # the executors' bytecode goes under prefix, mirroring the source paths they imported
        "--conf", f"spark.executorEnv.PYTHONPYCACHEPREFIX={prefix}", "--conf", "spark.executorEnv.PYTHONDONTWRITEBYTECODE=",
        str(REPO / "jobs" / "z_image.py"), "--recipe", str(REPO / "conf" / "z_image.yaml"),
        "--set", f"namespace={NS}", "--set", "lake.buckets=4", "--set", "tracking.enabled=false", "--set", f"lake.catalog={stack_catalog}",
        *[a for flag in stack.set_flags() for a in ("--set", flag)], "--run-id", f"{NS}-run",
    ]
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    seconds = time.monotonic() - t0
    summary = [line for line in done.stdout.splitlines() if line.split()[:1] in (["stage"], ["ingest"], ["image_cpu"], ["image_models"], ["dedup_image_phash"])]
    print(f"standalone cluster start {standalone.started_s} s; spark-submit z_image {seconds:.1f} s wall", *summary, sep="\n")
    return done, seconds, prefix


@pytest.mark.cluster
def test_z_image_on_standalone_matches_embedded(submitted, standalone: spark_cluster.SparkCluster, stack_catalog: str, first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    done, _, _ = submitted
    assert done.returncode == 0, done.stderr[-4000:]
    print("embedded stages (s):", [(s.stage, round(s.seconds, 1)) for s in first_run[1].stages])
    assert "image_cpu" in done.stdout and "rows in" in done.stdout

    # the application ran on this master, with both workers' executors
    app = spark.sql(f"SELECT summary['spark.app.id'] FROM {stack_catalog}.{NS}.signals_image_cpu.snapshots").first()[0]
    state = spark_cluster.master_state(standalone.ui_url)
    assert app in {a["id"] for a in state["completedapps"]}, (app, state["completedapps"])  # type: ignore[union-attr]
    for worker in standalone.workers:
        assert list(Path(worker.work_dir, app).iterdir()), f"no executor of {app} on {worker.work_dir}"

    # every table equals the embedded run's (run-naming columns aside: another run id)
    names = _tables(spark, "lake", "zi")
    assert names == _tables(spark, stack_catalog, NS)
    assert {"samples", "signals_image_cpu", "signals_image_models", "dedup_image_phash", "dedup_keys"} <= names
    frames = {(ns, name): comparable(spark.table(f"{cat}.{ns}.{name}")) for cat, ns in (("lake", "zi"), (stack_catalog, NS)) for name in names}
    got = {(r["ns"], r["name"]): (r["rows"], r["h"]) for r in functools.reduce(DataFrame.unionByName, [digest(f, ns, n) for (ns, n), f in frames.items()]).collect()}
    for name in sorted(names):
        local, remote = frames["zi", name], frames[NS, name]
        assert local.columns == remote.columns, name
        if got["zi", name] != got[NS, name]:  # only on failure: name the differing rows
            pytest.fail(f"{name} differs: {got['zi', name]} vs {got[NS, name]}; only embedded: {local.exceptAll(remote).limit(3).collect()}; "
                        f"only standalone: {remote.exceptAll(local).limit(3).collect()}")
        assert got["zi", name][0] > (20 if name == "dedup_keys" else 100), (name, got["zi", name])
    files = spark.sql(f"SELECT file_path FROM {stack_catalog}.{NS}.samples.files").collect()
    assert files and all(f.file_path.startswith("s3://lake/warehouse/") for f in files)


@pytest.mark.cluster
def test_executors_imported_spark_mm_from_the_shipped_archive(submitted, standalone: spark_cluster.SparkCluster) -> None:  # type: ignore[no-untyped-def]
    done, _, prefix = submitted
    assert done.returncode == 0, done.stderr[-4000:]
    imported = _imported_sources(prefix, "spark_mm")
    assert imported, f"the executors wrote no spark_mm bytecode under {prefix}"
    shipped_roots = {Path(w.work_dir).resolve() for w in standalone.workers}
    checkout = ship.package_dir().parent
    in_archive: dict[Path, set[str]] = {root: set() for root in shipped_roots}
    for source in imported:
        # <worker work dir>/<app id>/<executor id>/spark_mm_pkg/spark_mm/...
        root = next((r for r in shipped_roots if source.is_relative_to(r)), None)
        assert root is not None, f"executors imported {source}, not the shipped archive under a worker's work dir"
        rel = source.relative_to(root).parts
        assert rel[2:4] == (ship.ARCHIVE_NAME, "spark_mm"), f"executors imported {source}, not the shipped archive"
        assert not source.is_relative_to(checkout), source
        in_archive[root].add("/".join(rel[3:]))
        # the archive's folder also holds the native module those modules import (spark_mm._native)
        assert list(Path(root, *rel[:4]).glob("_native*.so")), f"no native module in {Path(root, *rel[:4])}"
    # on both workers: the package and the fused stage function the executors run (engine/plan.py)
    for root, modules in in_archive.items():
        assert {"spark_mm/__init__.py", "spark_mm/engine/plan.py"} <= modules, (root, sorted(modules)[:20])
