"""The tracking server of the dev stack: ``mlflow server`` on 127.0.0.1 with a SQL backend.

Runs go to ``http://127.0.0.1:<port>`` (``tracking.mlflow_uri`` or ``MLFLOW_TRACKING_URI``), as
they would to a team's shared server, instead of each job writing its own SQLite file. The
backend is a SQLite file under the stack root (any SQLAlchemy URI, e.g. PostgreSQL, works the
same on a cluster). Artifacts are *proxied* (``--serve-artifacts``): clients upload through the
server's REST API to ``--artifacts-destination``, so jobs need no storage credentials of their
own. With the stack's object store the destination is ``s3://<bucket>/mlartifacts`` (the server
reaches it through boto3 with ``MLFLOW_S3_ENDPOINT_URL`` and the standard ``AWS_*`` variables, in
its environment, never on its command line); without one it is a directory under the root.

One worker process: the stack shares a small machine with Spark; a cluster deployment sizes
``--workers`` (or runs several servers behind a balancer) for its job count.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from spark_mm.devstack import object_store, processes


@dataclass(frozen=True)
class MlflowServer:
    pid: int
    port: int
    artifacts: str  # where the server stores artifacts (a directory, or s3://bucket/prefix)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def command(port: int, backend: str, artifacts: str) -> list[str]:
    """The ``mlflow server`` command line (the installed mlflow, from this interpreter).

    >>> command(5001, "sqlite:////s/mlflow.db", "s3://lake/mlartifacts")[4:]
    ['--host', '127.0.0.1', '--port', '5001', '--workers', '1', '--backend-store-uri', 'sqlite:////s/mlflow.db', '--serve-artifacts', '--artifacts-destination', 's3://lake/mlartifacts']
    """
    return [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", backend,
        "--serve-artifacts", "--artifacts-destination", artifacts,
    ]  # fmt: skip


def start(logs: Path, state: Path, store: object_store.ObjectStore | None = None, bucket: str | None = None, port: int | None = None) -> MlflowServer:
    """Start the server with its database under ``state`` and wait for ``/health``.

    Args:
        logs: folder of the server's log file (``mlflow_server.log``).
        state: folder of the SQLite backend (``mlflow.db``) and, without a store, the artifacts.
        store: the stack's object store; with ``bucket``, artifacts go to ``s3://<bucket>/mlartifacts``.
        bucket: an existing bucket of ``store``.
        port: default a free one.
    """
    port = port or processes.free_port()
    state.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {}
    if store is not None and bucket:
        artifacts = f"s3://{bucket}/mlartifacts"
        env = {**object_store.credentials_env(), "MLFLOW_S3_ENDPOINT_URL": store.endpoint}
    else:
        (state / "artifacts").mkdir(exist_ok=True)
        artifacts = str(state / "artifacts")
    log = logs / "mlflow_server.log"
    proc = processes.start("MLflow server", command(port, f"sqlite:///{state / 'mlflow.db'}", artifacts), log, env)
    try:
        processes.wait_http("MLflow server", f"http://127.0.0.1:{port}/health", proc, log, timeout_s=120)
    except BaseException:
        processes.stop(proc.pid)
        raise
    return MlflowServer(proc.pid, port, artifacts)


def stop(server: MlflowServer) -> None:
    """Stop the server and its worker (one process group)."""
    processes.stop(server.pid)
