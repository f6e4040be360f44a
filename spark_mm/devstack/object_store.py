"""The S3-compatible object store of the dev stack: moto's standalone server on 127.0.0.1.

Why moto: it installs from PyPI (``spark-mm[stack]``), starts in about a second and speaks enough
of S3 for Iceberg's S3FileIO (puts, ranged gets, multipart, deletes, listing). It keeps objects in
memory; started with a ``recording`` file it survives a restart: moto's recorder appends every
request it serves to that file (``MOTO_ENABLE_RECORDING``), and :func:`restart` starts a new server
on the same port that replays the state-changing requests into itself before it listens
(:mod:`moto_server`, :mod:`recording`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from spark_mm.devstack import processes, recording
from spark_mm.errors import ConfigError

# moto accepts any key pair; real deployments take theirs from the environment or Spark conf.
DEV_ACCESS_KEY = "spark-mm-dev"
DEV_SECRET_KEY = "spark-mm-dev-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class ObjectStore:
    pid: int
    port: int
    recording: str | None = None  # moto's request log, replayed by restart(); None: objects die with the process

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def credentials_env() -> dict[str, str]:
    """The standard AWS variables every client of the dev store reads (SDKs, pyarrow, boto3)."""
    return {"AWS_ACCESS_KEY_ID": DEV_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": DEV_SECRET_KEY, "AWS_REGION": REGION}


def start(logs: Path, port: int | None = None, record: Path | None = None, replay: bool = False) -> ObjectStore:
    """Start the server and wait until it answers; with ``record``, every request is appended there,
    and with ``replay`` the writes already in that file are restored before the server listens."""
    port = port or processes.free_port()
    log = logs / "object_store.log"
    cmd = [sys.executable, "-m", "spark_mm.devstack.moto_server", "-H", "127.0.0.1", "-p", str(port)]
    if record and replay:
        cmd += ["--replay", str(record)]
    env = {"MOTO_PORT": str(port)}
    if record:
        env |= {"MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(record)}
    proc = processes.start("object store", cmd, log, env)
    processes.wait_http("object store (moto)", f"http://127.0.0.1:{port}/moto-api/", proc, log, timeout_s=120)
    return ObjectStore(proc.pid, port, str(record) if record else None)


@dataclass(frozen=True)
class Restarted:
    store: ObjectStore
    start_s: float  # until the new server answered, its objects restored
    replayed: int  # recorded writes restored


def restart(store: ObjectStore, logs: Path) -> Restarted:
    """Stop the server if it still runs and start a new one on the same port that restores the
    recorded writes before it listens (:mod:`moto_server`); the compacted log
    (:func:`recording.compact`) stays the file the new server appends to.

    Raises:
        ConfigError: the store has no recording (its objects are gone with the old process), or
            the recording cannot be read.
    """
    if store.recording is None:
        raise ConfigError(f"the object store at {store.endpoint} was started without a recording: a restart would lose every object")
    processes.stop(store.pid)
    path = Path(store.recording)
    replayed = len(recording.compact(path))  # also fails here, in the caller, on a torn recording
    t0 = time.monotonic()
    new = start(logs, store.port, path, replay=True)
    return Restarted(new, round(time.monotonic() - t0, 2), replayed)


def create_bucket(store: ObjectStore, bucket: str) -> None:
    import boto3  # installed with moto

    client = boto3.client("s3", endpoint_url=store.endpoint, region_name=REGION, aws_access_key_id=DEV_ACCESS_KEY, aws_secret_access_key=DEV_SECRET_KEY)
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in names:
        client.create_bucket(Bucket=bucket)
