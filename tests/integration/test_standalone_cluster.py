"""``spark-submit jobs/z_image.py --recipe conf/cluster.yaml`` to a real Spark standalone cluster (a master and two workers
launched with ``spark-class``), tables on the REST catalog + S3 stack, the package shipped as an
archive, **one worker killed mid-stage**: every table equals the embedded run of the same input
(``first_run``).

The fault: once the driver prints ``stage image_models chunk 2/4: started`` (``run.commit_chunks: 4``)
and the first chunk is on main, the driver's status API is polled until a task of that stage's Spark jobs (job group ``spark-mm:image_models``) runs on an executor;
that executor's Worker JVM (its parent process) is ``SIGKILL``-ed with its process group (the
executor JVM and its Python workers). The job must finish on the other worker: exit 0, the
stage's remaining chunks published after the kill, every chunk published once on ``main``, the driver's log
naming the lost executor and the master's log the removed worker.

The shipping is proven, not assumed: the workers' environment has no ``PYTHONPATH`` and the
executors' Python writes its bytecode under a cache prefix (``PYTHONPYCACHEPREFIX``), which mirrors
the path of every source file they imported. Every spark_mm module they imported must lie in the
archive unpacked under a worker's work dir, none in the checkout or the ``.venv``'s editable path.
(The killed executor is chosen among those that had imported ``spark_mm/engine/plan.py`` already.)
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from spark_mm.devstack import object_store, processes, ship, spark_cluster
from spark_mm.lake.lease import is_lease_table
from tests.integration.test_local_cluster import comparable, digest
from tests.reliability.jobs import Job, executor_pids, published_in, rest, wait_for

REPO = Path(__file__).resolve().parents[2]
NS = "zi_standalone"  # not first_run's "zi": the shared REST catalog may already hold zi (test_rest_object_store)
RUN = f"{NS}-run"
KILL_STAGE = "image_models"  # the longest operator stage: a window of seconds with tasks running
JOB_TIMEOUT = 900
CHUNKS = 4  # conf/cluster.yaml's run.commit_chunks: the worker dies with the stage partly published


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


def _ancestors(pid: int, depth: int = 4) -> list[int]:
    """Parent, grandparent, ... of ``pid`` (from /proc/<pid>/stat)."""
    out = []
    for _ in range(depth):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        if pid <= 1:
            break
        out.append(pid)
    return out


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting for its new parent to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@dataclass(frozen=True)
class Kill:
    executor: str
    executor_pid: int
    worker: spark_cluster.Worker
    worker_id: str  # the master's id of the killed worker
    spark_stage: str  # the Spark stage whose task ran on the executor
    at_ms: int  # wall clock of the kill, epoch milliseconds
    after_start_s: float  # seconds from the "stage KILL_STAGE chunk 2/4: started" line to the kill
    published_before: int  # chunks of KILL_STAGE on main when the worker was killed


@dataclass(frozen=True)
class Submitted:
    rc: int
    stdout: str
    stderr: str
    seconds: float
    prefix: Path
    kill: Kill


def _published_chunks(stack, table: str) -> int:  # type: ignore[no-untyped-def]
    """Chunks of this run on ``table``'s main, read through the REST catalog (pyiceberg)."""
    from pyiceberg.catalog import load_catalog

    props = stack.lake_settings().pyiceberg_properties() | {"s3.access-key-id": object_store.DEV_ACCESS_KEY,
                                                         "s3.secret-access-key": object_store.DEV_SECRET_KEY, "s3.region": object_store.REGION}
    return len(published_in(load_catalog("probe", **props).load_table(f"{NS}.{table}").metadata, RUN))


def _kill_a_worker_mid_stage(job: Job, cluster: spark_cluster.SparkCluster, prefix: Path, published: Callable[[], int]) -> Kill:
    """Once ``published()`` (chunks of ``KILL_STAGE`` on main) is between 1 and ``CHUNKS - 1``, wait
    for a task of the stage on an executor, then SIGKILL that executor's worker (process group)."""
    app = wait_for("the driver's status API", lambda: (rest(job, "/applications") or [{}])[0].get("id"), job, 300)
    marker = f"stage {KILL_STAGE} chunk 2/{CHUNKS}: started"  # chunk 1 is published by then
    wait_for(f"'{marker}'", lambda: marker in job.out(), job, JOB_TIMEOUT, every=0.3)
    started = time.monotonic()
    workers = {w.pid: w for w in cluster.workers}

    def running_task() -> tuple[str, int, spark_cluster.Worker, str] | None:
        later = job.out().split(marker, 1)[1]
        assert not re.search(r"^stage (?!" + KILL_STAGE + r"\b)\S+( chunk \S+)?: started", later, re.M), f"{KILL_STAGE} ended before a worker could be killed"
        done = published()
        assert done < CHUNKS, f"every {KILL_STAGE} chunk was published before a worker could be killed"
        if done == 0:
            return None
        group = {sid for j in rest(job, f"/applications/{app}/jobs?status=running") or [] if j.get("jobGroup") == f"spark-mm:{KILL_STAGE}" for sid in j.get("stageIds", [])}
        pids = executor_pids(app)
        for stage in rest(job, f"/applications/{app}/stages?status=active") or []:
            if stage["stageId"] not in group or not stage.get("numActiveTasks"):
                continue
            tasks = rest(job, f"/applications/{app}/stages/{stage['stageId']}/{stage['attemptId']}/taskList?status=running") or []
            for task in tasks:
                eid = task.get("executorId")
                worker = next((workers[p] for p in _ancestors(pids[eid]) if p in workers), None) if eid in pids else None
                if worker is None:
                    continue
                work = str(Path(worker.work_dir).resolve()).lstrip("/")
                if list(prefix.glob(f"{work}/{app}/{eid}/{ship.ARCHIVE_NAME}/spark_mm/engine/plan.*.pyc")):  # it imported the shipped stage code
                    return eid, pids[eid], worker, stage.get("name", "")
        return None

    eid, pid, worker, spark_stage = wait_for(f"a {KILL_STAGE} task on an executor", running_task, job, JOB_TIMEOUT, every=0.3)
    state = spark_cluster.master_state(cluster.ui_url)
    worker_id = next(w["id"] for w in state["workers"] if str(w.get("webuiaddress", "")).endswith(f":{worker.ui_port}"))  # type: ignore[union-attr]
    at_ms, after = int(time.time() * 1000), time.monotonic() - started
    before = published()
    os.killpg(worker.pid, signal.SIGKILL)  # the Worker JVM, the executors it launched and their Python workers
    try:
        os.kill(pid, signal.SIGKILL)  # in case the executor had left the worker's process group
    except ProcessLookupError:
        pass
    try:
        os.waitpid(worker.pid, 0)  # the worker is this process's child: reap it
    except ChildProcessError:
        pass
    return Kill(eid, pid, worker, worker_id, spark_stage, at_ms, round(after, 1), before)


@pytest.fixture(scope="module")
def submitted(standalone: spark_cluster.SparkCluster, stack, stack_catalog: str, lake_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Submitted:  # type: ignore[no-untyped-def]
    """One spark-submit of jobs/z_image.py with conf/cluster.yaml to the standalone master, one of its
    workers killed while ``KILL_STAGE`` is partly published.

    The recipe is conf/cluster.yaml as a user runs it on a cluster: its catalog, warehouse and
    store come from the stack's ``--set`` flags, tracking is off (no MLflow server here), and
    spark-submit's ``--conf`` sizes the executors for two 1-core workers (it wins over the recipe's
    4-core sizing); the rest of its Spark conf (dynamic allocation with shuffle tracking, worker
    reuse) and ``run.commit_chunks: 4`` stay as written.

    The session's cluster keeps one worker after this (the fixture is the last user of ``standalone``).
    """
    work = tmp_path_factory.mktemp("standalone_submit")
    archive = ship.pack(work / "spark_mm_pkg.zip")
    prefix = work / "executor_pycache"
    bin_dir = Path(sys.executable).parent
    ui_port = processes.free_port()
    # the driver: this checkout (client mode), loopback, the store's credentials in its environment
    env = dict(os.environ, SPARK_MM_HOME=str(lake_home), SPARK_LOCAL_IP="127.0.0.1", PATH=f"{bin_dir}:{os.environ['PATH']}", **object_store.credentials_env())
    cmd = [
        str(bin_dir / "spark-submit"), "--master", standalone.master_url, "--deploy-mode", "client",
        *ship.submit_args(archive, python=sys.executable),
        "--conf", "spark.executor.memory=1g", "--conf", "spark.executor.cores=1", "--conf", "spark.cores.max=2",
        "--conf", "spark.executor.memoryOverhead=512m", "--conf", "spark.sql.shuffle.partitions=8",
        # the driver's status API (jobs, stages, tasks per executor) finds the moment to kill
        "--conf", "spark.ui.enabled=true", "--conf", f"spark.ui.port={ui_port}", "--conf", "spark.ui.port.maxRetries=0",
        # the executors' bytecode goes under prefix, mirroring the source paths they imported
        "--conf", f"spark.executorEnv.PYTHONPYCACHEPREFIX={prefix}", "--conf", "spark.executorEnv.PYTHONDONTWRITEBYTECODE=",
        str(REPO / "jobs" / "z_image.py"), "--recipe", str(REPO / "conf" / "cluster.yaml"),
        "--set", f"namespace={NS}", "--set", "lake.buckets=4", "--set", "tracking.enabled=false", "--set", f"lake.catalog={stack_catalog}",
        *[a for flag in stack.set_flags() for a in ("--set", flag)], "--run-id", RUN,
    ]
    stdout, stderr = work / "driver.out", work / "driver.err"
    t0 = time.monotonic()
    with stdout.open("w") as o, stderr.open("w") as e:
        proc = subprocess.Popen(cmd, env=env, stdout=o, stderr=e, text=True, cwd=REPO, start_new_session=True)
    job = Job(proc, stdout, stderr, NS, RUN, ui_port)
    try:
        kill = _kill_a_worker_mid_stage(job, standalone, prefix, lambda: _published_chunks(stack, f"signals_{KILL_STAGE}"))
        rc = job.wait(JOB_TIMEOUT)
    finally:
        job.kill()
    seconds = time.monotonic() - t0
    out = job.out()
    summary = [line for line in out.splitlines() if line.split()[:1] in (["stage"], ["ingest"], ["image_cpu"], ["image_models"], ["dedup_image_phash"])]
    print(f"standalone cluster start {standalone.started_s} s; spark-submit z_image {seconds:.1f} s wall; killed worker {kill.worker_id} "
          f"(executor {kill.executor}, pid {kill.executor_pid}) during Spark stage {kill.spark_stage!r}, {kill.after_start_s} s after {KILL_STAGE}'s chunk 2 started, "
          f"{kill.published_before}/{CHUNKS} chunks published", *summary, sep="\n")
    return Submitted(rc, out, job.err(), seconds, prefix, kill)


def _main_publishes(spark: SparkSession, table: str) -> list[tuple[str, int]]:
    """(WAP id, commit time in epoch ms) of the snapshots in the current history of ``table``'s main."""
    rows = spark.sql(
        f"SELECT coalesce(s.summary['wap.id'], s.summary['published-wap-id']) AS wap, unix_millis(s.committed_at) AS ms "
        f"FROM {table}.history h JOIN {table}.snapshots s USING (snapshot_id) WHERE h.is_current_ancestor ORDER BY h.made_current_at"
    ).collect()
    return [(r["wap"] or "", int(r["ms"])) for r in rows]


@pytest.mark.cluster
def test_worker_killed_mid_stage_job_finishes_on_the_other_worker(submitted: Submitted, standalone: spark_cluster.SparkCluster, stack_catalog: str, spark: SparkSession) -> None:
    kill = submitted.kill
    assert submitted.rc == 0, submitted.stderr[-4000:]
    # the loss is visible: the driver lost the executor, the master removed the worker
    assert re.search(rf"Lost executor {kill.executor}\b", submitted.stderr), "the driver never noticed the killed executor"
    master_log = (Path(kill.worker.work_dir).parent / "logs" / "spark_master.log").read_text(errors="replace")
    assert f"Removing worker {kill.worker_id}" in master_log, [line for line in master_log.splitlines() if "worker" in line.lower()][-10:]
    state = spark_cluster.master_state(standalone.ui_url)
    alive = {w["id"] for w in state["workers"] if w.get("state") == "ALIVE"}  # type: ignore[union-attr]
    assert kill.worker_id not in alive and len(alive) == len(standalone.workers) - 1, state["workers"]
    assert not processes.alive(kill.worker.pid) and not _running(kill.executor_pid)
    # no half-commits: every chunk of every stage published exactly once on main; of the killed
    # stage, some chunks before the kill and the rest after it
    assert 1 <= kill.published_before < CHUNKS, kill
    for table, stage, chunks in (("samples", "ingest", 1), ("signals_image_cpu", "image_cpu", CHUNKS), (f"signals_{KILL_STAGE}", KILL_STAGE, CHUNKS)):
        spark.sql(f"REFRESH TABLE {stack_catalog}.{NS}.{table}")
        publishes = _main_publishes(spark, f"{stack_catalog}.{NS}.{table}")
        ours = Counter(wap for wap, _ in publishes if wap.startswith(f"{RUN}."))
        assert ours == {f"{RUN}.{stage}.{i}of{chunks}": 1 for i in range(1, chunks + 1)}, (table, publishes)
        if stage == KILL_STAGE:
            before = sorted(wap for wap, ms in publishes if wap.startswith(f"{RUN}.") and ms <= kill.at_ms)
            k = len(before)  # a chunk may have landed between the last look and the kill
            assert kill.published_before <= k < chunks and before == [f"{RUN}.{stage}.{i}of{chunks}" for i in range(1, k + 1)], (before, kill)


@pytest.mark.cluster
def test_z_image_on_standalone_matches_embedded(submitted: Submitted, standalone: spark_cluster.SparkCluster, stack_catalog: str, first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    assert submitted.rc == 0, submitted.stderr[-4000:]
    print("embedded stages (s):", [(s.stage, round(s.seconds, 1)) for s in first_run[1].stages])
    assert "image_cpu" in submitted.stdout and "rows in" in submitted.stdout

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
def test_executors_imported_spark_mm_from_the_shipped_archive(submitted: Submitted, standalone: spark_cluster.SparkCluster) -> None:
    assert submitted.rc == 0, submitted.stderr[-4000:]
    prefix = submitted.prefix
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
    # z_image without CLIP/SigLIP/aesthetic weights runs no torch model (open-NSFW is ONNX): its
    # executors must not import torch, so their environment needs no torch (docs/deploy.md)
    heavy = sorted({p.parts[p.parts.index("site-packages") + 1] for p in prefix.rglob("*.pyc") if "site-packages" in p.parts} & {"torch", "open_clip", "timm", "transformers", "torchvision"})
    assert not heavy, f"weights-less executors imported {heavy}"
