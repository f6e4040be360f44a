"""A Spark standalone cluster of the dev stack: one master and two workers on 127.0.0.1.

Launched with ``spark-class`` from the installed pyspark (``SPARK_HOME`` = pyspark's package
folder), as ``sbin/start-master.sh`` / ``start-worker.sh`` would on real nodes, but in the
foreground so :func:`processes.stop` ends each JVM (and the executors a worker started, which stay
in its process group). Every port is a free loopback one; each worker has its own ``--work-dir``
(the executors' working directories: shipped archives are unpacked there, logs land there).

The workers' environment is the one a cluster node would have, not the caller's: ``PYTHONPATH``
is removed (a checkout on it would let executors import spark_mm without the shipped package), and
``node_env`` (e.g. the object store's credentials, as an instance profile would provide) is added.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from spark_mm.devstack import processes
from spark_mm.errors import ConfigError

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# The caller's variables a node does not have: executors must not find the driver's checkout.
NOT_ON_NODES = ("PYTHONPATH", "PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "SPARK_CONF_DIR")


@dataclass(frozen=True)
class Worker:
    pid: int
    ui_port: int
    work_dir: str


@dataclass(frozen=True)
class SparkCluster:
    master_pid: int
    master_port: int
    master_ui_port: int
    workers: tuple[Worker, ...]
    started_s: float

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.master_ui_port}"

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers] + [self.master_pid]

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> SparkCluster:
        workers = tuple(Worker(**w) for w in raw["workers"])  # type: ignore[attr-defined]
        return cls(int(raw["master_pid"]), int(raw["master_port"]), int(raw["master_ui_port"]), workers, float(raw["started_s"]))  # type: ignore[arg-type]


def spark_home() -> Path:
    """The installed pyspark's package folder: it holds ``bin/spark-class`` and ``jars/``."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def node_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a master or worker JVM: the caller's minus :data:`NOT_ON_NODES`, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_ON_NODES}
    env.update({"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "256m", **(extra or {})})
    return env


def master_state(ui_url: str) -> dict[str, object]:
    """The master web UI's ``/json`` document (status, workers with their state, applications)."""
    with urllib.request.urlopen(f"{ui_url}/json/", timeout=5) as resp:
        return json.loads(resp.read())


def wait_workers(ui_url: str, count: int, pids: list[int], logs: Path, timeout_s: float = 120.0) -> None:
    """Poll the master until ``count`` workers are ALIVE.

    Raises:
        ConfigError: a JVM exited, or the time ran out; names what is missing and where the logs are.
    """
    deadline = time.monotonic() + timeout_s
    alive = 0
    while True:
        try:
            state = master_state(ui_url)
            alive = sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")  # type: ignore[union-attr]
            if alive >= count:
                return
        except OSError:
            pass
        dead = [pid for pid in pids if not processes.alive(pid)]
        if dead:
            raise ConfigError(f"Spark standalone: process(es) {dead} exited before {count} workers registered; see {logs}")
        if time.monotonic() > deadline:
            raise ConfigError(f"Spark standalone: {alive} of {count} workers ALIVE at {ui_url} after {timeout_s:.0f} s; see {logs}")
        time.sleep(0.3)


def start(root: Path, workers: int = 2, cores: int = 1, memory: str = "2g", node_env: Mapping[str, str] | None = None) -> SparkCluster:
    """Start a master and ``workers`` workers under ``root`` (logs, work dirs); wait until all are ALIVE."""
    t0 = time.monotonic()
    logs = root / "logs"
    spark_class = str(spark_home() / "bin" / "spark-class")
    env = node_environment(node_env)
    port, ui_port = processes.free_port(), processes.free_port()
    master = processes.start(
        "Spark master", [spark_class, MASTER_CLASS, "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui_port)],
        logs / "spark_master.log", env, inherit=False,
    )
    started: list[Worker] = []
    try:
        # Workers start at once: they retry until the master listens (JVM start-ups overlap).
        for i in range(workers):
            work_dir = root / f"worker-{i}"
            work_dir.mkdir(parents=True, exist_ok=True)
            w_ui = processes.free_port()
            cmd = [
                spark_class, WORKER_CLASS, f"spark://127.0.0.1:{port}", "--host", "127.0.0.1", "--webui-port", str(w_ui),
                "--cores", str(cores), "--memory", memory, "--work-dir", str(work_dir),
            ]
            proc = processes.start(f"Spark worker {i}", cmd, logs / f"spark_worker_{i}.log", env, inherit=False)
            started.append(Worker(proc.pid, w_ui, str(work_dir)))
        processes.wait_http("Spark master", f"http://127.0.0.1:{ui_port}/json/", master, logs / "spark_master.log", timeout_s=90)
        wait_workers(f"http://127.0.0.1:{ui_port}", workers, [master.pid] + [w.pid for w in started], logs)
    except BaseException:
        stop(SparkCluster(master.pid, port, ui_port, tuple(started), 0.0))
        raise
    return SparkCluster(master.pid, port, ui_port, tuple(started), round(time.monotonic() - t0, 2))


def stop(cluster: SparkCluster) -> None:
    """Workers first (each takes its executors with it), then the master."""
    for pid in cluster.pids():
        processes.stop(pid)
