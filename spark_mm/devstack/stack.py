"""The dev stack as one unit: start, describe (a state file), settings that point a lake at it, stop."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from spark_mm.devstack import mlflow_server, object_store, processes, rest_catalog, spark_cluster
from spark_mm.errors import ConfigError
from spark_mm.lake.settings import CatalogType, LakeSettings

BUCKET = "lake"
WAREHOUSE = f"s3://{BUCKET}/warehouse"


@dataclass(frozen=True)
class Stack:
    root: str
    store: object_store.ObjectStore
    catalog: rest_catalog.RestCatalog
    started_s: float
    tracking: mlflow_server.MlflowServer | None = None  # the MLflow server, when up(tracking=True)
    cluster: spark_cluster.SparkCluster | None = None  # the optional standalone Spark cluster

    def lake_settings(self, catalog: str = "lake", buckets: int = 16) -> LakeSettings:
        """A lake on this stack. Credentials are not in here: they come from the environment."""
        props = {"io-impl": "org.apache.iceberg.aws.s3.S3FileIO", "s3.endpoint": self.store.endpoint, "s3.path-style-access": "true"}
        return LakeSettings(catalog=catalog, type=CatalogType.REST, uri=self.catalog.uri, warehouse=WAREHOUSE, buckets=buckets, properties=props)

    def set_flags(self) -> list[str]:
        """``--set`` overrides that point a recipe run at this stack."""
        lake = self.lake_settings()
        flags = [f"lake.type={lake.type.value}", f"lake.uri={lake.uri}", f"lake.warehouse={lake.warehouse}"]
        return flags + [f"lake.properties.{k}={v}" for k, v in lake.properties.items()]


def state_file(root: Path) -> Path:
    return root / "state.json"


def up(root: Path, tracking: bool = False, cluster: bool = False) -> Stack:
    """Start the object store and the REST catalog on free loopback ports; write the state file.

    ``tracking``: also an MLflow server, its artifacts on the stack's bucket. ``cluster``: also a
    Spark standalone master and two workers (:mod:`spark_cluster`), whose nodes get the store's
    credentials in their environment (as an instance profile would). The store records its requests
    under ``<root>/store`` so :func:`restart_store` brings its objects back.
    """
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    logs = root / "logs"
    (root / "store").mkdir(exist_ok=True)
    store = object_store.start(logs, record=root / "store" / "recording.jsonl")
    try:
        object_store.create_bucket(store, BUCKET)
        catalog = rest_catalog.start(logs, root / "catalog", store, WAREHOUSE)
    except BaseException:
        processes.stop(store.pid)
        raise
    server = spark = None
    try:
        if tracking:
            server = mlflow_server.start(logs, root / "mlflow", store, BUCKET)
        if cluster:
            spark = spark_cluster.start(root / "spark", node_env=object_store.credentials_env())
    except BaseException:
        if server is not None:
            mlflow_server.stop(server)
        processes.stop(catalog.pid)
        processes.stop(store.pid)
        raise
    stack = Stack(str(root), store, catalog, round(time.monotonic() - t0, 2), tracking=server, cluster=spark)
    _save(stack)
    return stack


def _save(stack: Stack) -> None:
    state_file(Path(stack.root)).write_text(json.dumps(asdict(stack), indent=2))


def _loaded(root: Path) -> Stack:
    stack = load(root)
    if stack is None:
        raise ConfigError(f"no dev stack recorded under {root}: start one with python -m spark_mm.devstack up")
    return stack


def restart_catalog(root: Path) -> tuple[Stack, float]:
    """Stop the REST catalog if it still runs and start it again on the same port with the same
    SQLite file (every table it knew, at the metadata it last committed); the stack and the seconds
    until it answered. The state file gets the new pid."""
    stack = _loaded(root)
    processes.stop(stack.catalog.pid)
    t0 = time.monotonic()
    catalog = rest_catalog.start(root / "logs", root / "catalog", stack.store, WAREHOUSE, port=stack.catalog.port)
    new = replace(stack, catalog=catalog)
    _save(new)
    return new, round(time.monotonic() - t0, 2)


def restart_store(root: Path) -> tuple[Stack, object_store.Restarted]:
    """Stop the object store if it still runs and start it again on the same port with its objects
    replayed from its recording (:func:`object_store.restart`); the state file gets the new pid."""
    stack = _loaded(root)
    restarted = object_store.restart(stack.store, root / "logs")
    new = replace(stack, store=restarted.store)
    _save(new)
    return new, restarted


def load(root: Path) -> Stack | None:
    """The stack described by ``root``'s state file, or None when there is none."""
    path = state_file(root)
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    server = mlflow_server.MlflowServer(**raw["tracking"]) if raw.get("tracking") else None
    spark = spark_cluster.SparkCluster.from_json(raw["cluster"]) if raw.get("cluster") else None
    return Stack(
        raw["root"], object_store.ObjectStore(**raw["store"]), rest_catalog.RestCatalog(**raw["catalog"]), raw["started_s"], tracking=server, cluster=spark
    )


def down(root: Path) -> bool:
    """Stop every server of the stack at ``root`` (cluster, tracking, catalog, then the store); False when none was recorded."""
    stack = load(root)
    if stack is None:
        return False
    if stack.cluster is not None:
        spark_cluster.stop(stack.cluster)
    if stack.tracking is not None:
        mlflow_server.stop(stack.tracking)
    processes.stop(stack.catalog.pid)
    processes.stop(stack.store.pid)
    state_file(root).unlink()
    return True
