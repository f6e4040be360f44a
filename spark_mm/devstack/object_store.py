"""The S3-compatible object store of the dev stack: moto's standalone server on 127.0.0.1.

Why moto: it installs from PyPI (``spark-mm[stack]``), starts in about a second and speaks enough
of S3 for Iceberg's S3FileIO (puts, ranged gets, multipart, deletes, listing). It keeps objects in
memory, so a restart loses them: fault tests that restart the store need a persistent one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from spark_mm.devstack import processes

# moto accepts any key pair; real deployments take theirs from the environment or Spark conf.
DEV_ACCESS_KEY = "spark-mm-dev"
DEV_SECRET_KEY = "spark-mm-dev-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class ObjectStore:
    pid: int
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def credentials_env() -> dict[str, str]:
    """The standard AWS variables every client of the dev store reads (SDKs, pyarrow, boto3)."""
    return {"AWS_ACCESS_KEY_ID": DEV_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": DEV_SECRET_KEY, "AWS_REGION": REGION}


def start(logs: Path, port: int | None = None) -> ObjectStore:
    """Start the server and wait until it answers."""
    port = port or processes.free_port()
    log = logs / "object_store.log"
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = processes.start("object store", cmd, log)
    processes.wait_http("object store (moto)", f"http://127.0.0.1:{port}/moto-api/", proc, log, timeout_s=60)
    return ObjectStore(proc.pid, port)


def create_bucket(store: ObjectStore, bucket: str) -> None:
    import boto3  # installed with moto

    client = boto3.client("s3", endpoint_url=store.endpoint, region_name=REGION, aws_access_key_id=DEV_ACCESS_KEY, aws_secret_access_key=DEV_SECRET_KEY)
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in names:
        client.create_bucket(Bucket=bucket)
