"""Helpers of the fault tests: run a job (z_image, download) with spark-submit in its own process
group, watch its commits with pyiceberg, kill it, and fingerprint the tables it wrote."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from spark_mm.lake.lease import is_lease_table

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Columns that name the run, not the content: equal content from two runs differs only here.
RUN_COLUMNS = {"run_id", "ingest_run_id", "first_seen_run"}
CLUSTER = "local-cluster[2,1,2048]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gpu_discovery_script(folder: Path) -> Path:
    """A fake GPU discovery script: one GPU per worker, so the GPU stage's profile can be scheduled."""
    script = folder / "gpus.sh"
    script.write_text('#!/bin/sh\necho \'{"name": "gpu", "addresses": ["0"]}\'\n')
    script.chmod(0o755)
    return script


@dataclass
class Job:
    """A spark-submit of ``jobs/<job>.py`` running in its own process group."""

    proc: subprocess.Popen[str]
    stdout: Path
    stderr: Path
    namespace: str
    run_id: str
    ui_port: int | None

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"job {self.run_id} did not finish in {timeout:.0f}s; stderr tail:\n{self.err()[-3000:]}") from None

    def kill(self) -> None:
        """SIGKILL the whole process group: driver JVM, local-cluster executors, Python workers."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=60)
        else:  # the driver is gone; executors or workers it started may not be
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def out(self) -> str:
        return self.stdout.read_text(errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")


def start_job(
    home: Path, logs: Path, namespace: str, run_id: str, *, master: str, sets: tuple[str, ...] = (),
    gpus: Path | None = None, ui: bool = False, job: str = "z_image", spark_conf: tuple[str, ...] = (), env: dict[str, str] | None = None,
) -> Job:
    """Start ``spark-submit jobs/<job>.py --recipe conf/<job>.yaml`` like a user would (see tests/integration/test_local_cluster.py).

    ``env`` is added to the driver's environment (e.g. an object store's credentials).
    """
    env = dict(os.environ, SPARK_MM_HOME=str(home), PATH=f"{BIN}:{os.environ['PATH']}", **(env or {}))
    port = free_port() if ui else None
    conf = ["spark.executor.memory=1g", f"spark.ui.enabled={'true' if ui else 'false'}", *spark_conf]
    if port:
        conf.append(f"spark.ui.port={port}")
    if gpus:  # local-cluster: workers and executors advertise one (fake) GPU each
        conf += [
            "spark.worker.resource.gpu.amount=1", f"spark.worker.resource.gpu.discoveryScript={gpus}",
            "spark.executor.resource.gpu.amount=1", f"spark.executor.resource.gpu.discoveryScript={gpus}",
        ]
    cmd = [str(BIN / "spark-submit"), "--master", master]
    for c in conf:
        cmd += ["--conf", c]
    cmd += [str(REPO / "jobs" / f"{job}.py"), "--recipe", str(REPO / "conf" / f"{job}.yaml"), "--run-id", run_id]
    for s in (f"namespace={namespace}", "lake.buckets=4", "tracking.enabled=false", *sets):
        cmd += ["--set", s]
    logs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = logs / f"{run_id}.out", logs / f"{run_id}.err"
    with stdout.open("a") as o, stderr.open("a") as e:
        proc = subprocess.Popen(cmd, env=env, stdout=o, stderr=e, text=True, cwd=REPO, start_new_session=True)
    return Job(proc, stdout, stderr, namespace, run_id, port)


@dataclass(frozen=True)
class Publish:
    stage: str
    chunk: str  # "2of4"


def published(home: Path, namespace: str, table: str, run_id: str) -> list[Publish]:
    """WAP ids of ``run_id`` in the current history of a table (pyiceberg: no Spark, no cache)."""
    from pyiceberg.catalog import load_catalog
    from pyiceberg.exceptions import NoSuchTableError

    from spark_mm.lake.settings import LakeSettings

    old = os.environ.get("SPARK_MM_HOME")
    os.environ["SPARK_MM_HOME"] = str(home)
    try:
        catalog = load_catalog("lake", **LakeSettings().pyiceberg_properties())
        try:
            meta = catalog.load_table(f"{namespace}.{table}").metadata
        except NoSuchTableError:
            return []
    finally:
        if old is None:
            os.environ.pop("SPARK_MM_HOME", None)
        else:
            os.environ["SPARK_MM_HOME"] = old
    return published_in(meta, run_id)


def main_history(meta: Any) -> list[Any]:
    """The snapshots of main's current history in a table's metadata (pyiceberg), oldest first."""
    by_id = {s.snapshot_id: s for s in meta.snapshots}
    out = []
    snap = by_id.get(meta.current_snapshot_id) if meta.current_snapshot_id is not None else None
    while snap is not None:
        out.append(snap)
        snap = by_id.get(snap.parent_snapshot_id) if snap.parent_snapshot_id is not None else None
    return out[::-1]


def chunk_of(snap: Any, run_id: str) -> Publish | None:
    """The stage chunk a snapshot published (its ``wap.id`` or ``published-wap-id``), if ``run_id``'s."""
    props = snap.summary.additional_properties if snap.summary else {}
    wap = props.get("wap.id") or props.get("published-wap-id") or ""
    m = re.fullmatch(re.escape(run_id) + r"\.([A-Za-z0-9_]+)\.(\d+of\d+)", wap)
    return Publish(m.group(1), m.group(2)) if m else None


def published_in(meta: Any, run_id: str) -> list[Publish]:
    """WAP ids of ``run_id`` in main's current history of a table's metadata (pyiceberg)."""
    return [p for p in (chunk_of(s, run_id) for s in main_history(meta)) if p is not None]


def snapshots_with_wap(home: Path, namespace: str, table: str) -> tuple[list[tuple[int, str]], set[int]]:
    """(snapshot id, wap.id) of every staged snapshot, and the ids in the current ancestry."""
    from pyiceberg.catalog import load_catalog

    from spark_mm.lake.settings import LakeSettings

    os.environ["SPARK_MM_HOME"] = str(home)
    return staged_in(load_catalog("lake", **LakeSettings().pyiceberg_properties()).load_table(f"{namespace}.{table}").metadata)


def staged_in(meta: Any) -> tuple[list[tuple[int, str]], set[int]]:
    """:func:`snapshots_with_wap` of a table's metadata (pyiceberg)."""
    ancestry = {s.snapshot_id for s in main_history(meta)}
    staged = [(s.snapshot_id, s.summary.additional_properties["wap.id"]) for s in meta.snapshots if s.summary and "wap.id" in s.summary.additional_properties]
    return staged, ancestry


def wait_for(what: str, check: Callable[[], Any], job: Job, timeout: float, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail (and kill the job) on timeout or job exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if job.proc.poll() is not None:
            raise AssertionError(f"job {job.run_id} exited ({job.proc.returncode}) before {what}; stderr tail:\n{job.err()[-3000:]}")
        time.sleep(every)
    job.kill()
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def rest(job: Job, path: str) -> Any:
    """GET the driver's Spark status REST API; None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{job.ui_port}/api/v1{path}", timeout=5) as r:
            return json.load(r)
    except (OSError, ValueError):
        return None


def executor_pids(app_id: str) -> dict[str, int]:
    """executor id → pid of the CoarseGrainedExecutorBackend JVMs of one application.

    Reads /proc/<pid>/cmdline: ``ps`` cuts the JVMs' long command lines before ``--executor-id``.
    """
    out = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in args]
        if "org.apache.spark.executor.CoarseGrainedExecutorBackend" in words and app_id in words:
            try:
                out[words[words.index("--executor-id") + 1]] = int(proc.name)
            except (ValueError, IndexError):
                continue
    return out


def is_run_column(name: str) -> bool:
    """Columns that name the run that wrote a row (run_id, ingest_run_id, first_seen_run), not its content."""
    return name in RUN_COLUMNS or name.endswith("_run_id") or name.endswith("_run")


def fingerprint(spark: SparkSession, namespace: str) -> dict[str, tuple[int, int, int]]:
    """Per table of the namespace: (rows, distinct sample ids, sum of xxhash64 over every column
    but the run ids). Maps are hashed through ``to_json`` (xxhash64 refuses maps); floats bit for bit.
    """
    out = {}
    for row in spark.sql(f"SHOW TABLES IN lake.{namespace}").collect():
        if is_lease_table(row["tableName"]):  # the namespace lease: no rows, not a run's output
            continue
        table = f"lake.{namespace}.{row['tableName']}"
        spark.sql(f"REFRESH TABLE {table}")  # the catalog caches tables another process committed to
        frame = spark.table(table)
        cols = [
            f"to_json(`{f.name}`)" if f.dataType.typeName() == "map" else f"`{f.name}`"
            for f in sorted(frame.schema.fields, key=lambda f: f.name)
            if not is_run_column(f.name)
        ]
        r = spark.sql(f"SELECT count(*), count(DISTINCT sample_id), coalesce(sum(CAST(xxhash64({', '.join(cols)}) AS DECIMAL(38, 0))), 0) FROM {table}").first()
        out[row["tableName"]] = (int(r[0]), int(r[1]), int(r[2]))
    return out


def chunk_counts(publishes: list[Publish]) -> Counter[tuple[str, str]]:
    return Counter((p.stage, p.chunk) for p in publishes)


def iter_lines(text: str, word: str) -> Iterator[str]:
    return (line for line in text.splitlines() if word in line)
