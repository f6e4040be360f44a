"""Iceberg's own REST catalog server (``org.apache.iceberg.rest.RESTCatalogServer``, the server of
the ``apache/iceberg-rest-fixture`` image) with a JDBC-on-SQLite backend and S3FileIO on the store.

Its classpath is resolved once from Maven Central with ``tools/rest_catalog/pom.xml`` into
``.cache/rest_catalog/lib``. The server is configured by ``CATALOG_*`` environment variables
(``CATALOG_S3_ENDPOINT`` is the catalog property ``s3.endpoint``, ``__`` stands for ``-``). It
listens on all interfaces (the fixture has no bind-address setting); clients use 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from spark_mm.devstack import object_store, processes
from spark_mm.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
POM = REPO / "tools" / "rest_catalog" / "pom.xml"
MAIN_CLASS = "org.apache.iceberg.rest.RESTCatalogServer"


@dataclass(frozen=True)
class RestCatalog:
    pid: int
    port: int

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def lib_dir() -> Path:
    return REPO / ".cache" / "rest_catalog" / "lib"


def resolve_classpath() -> Path:
    """Copy the server's jars into the cache with Maven (idempotent: a stamp records the pom)."""
    lib = lib_dir()
    stamp = lib / ".pom"
    if stamp.is_file() and stamp.read_text() == POM.read_text():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConfigError("the REST catalog server's jars come from Maven Central: install Maven (apt-get install maven)")
    lib.mkdir(parents=True, exist_ok=True)
    cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={lib}", "-DincludeScope=runtime"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(f"mvn could not resolve the REST catalog server's classpath:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    stamp.write_text(POM.read_text())
    return lib


def start(logs: Path, state: Path, store: object_store.ObjectStore, warehouse: str, port: int | None = None) -> RestCatalog:
    """Start the server on ``port`` with its catalog database under ``state`` and wait for ``/v1/config``."""
    lib = resolve_classpath()
    port = port or processes.free_port()
    state.mkdir(parents=True, exist_ok=True)
    env = {
        **object_store.credentials_env(),
        "CATALOG_REST_PORT": str(port),
        "CATALOG_WAREHOUSE": warehouse,
        "CATALOG_URI": f"jdbc:sqlite:{state / 'rest_catalog.db'}",
        "CATALOG_JDBC_SCHEMA__VERSION": "V1",
        "CATALOG_IO__IMPL": "org.apache.iceberg.aws.s3.S3FileIO",
        "CATALOG_S3_ENDPOINT": store.endpoint,
        "CATALOG_S3_PATH__STYLE__ACCESS": "true",
    }
    log = logs / "rest_catalog.log"
    proc = processes.start("REST catalog", ["java", "-Xmx512m", "-cp", f"{lib}/*", MAIN_CLASS], log, env)
    processes.wait_http("REST catalog", f"http://127.0.0.1:{port}/v1/config", proc, log, timeout_s=90)
    return RestCatalog(proc.pid, port)
