"""Runs tracked on a real MLflow server (``mlflow server``, SQLite backend, artifacts proxied to an
S3 bucket on moto's server), both started on 127.0.0.1 by the fixture: a small image recipe with
``tracking.mlflow_uri: http://127.0.0.1:<port>`` is read back with ``MlflowClient`` (params,
metrics, tags, the report artifact, and the artifact's object in the bucket), and a secret given
the standard ways (``AWS_SECRET_ACCESS_KEY``, a catalog property in Spark conf) appears in none of
MLflow's params or tags, the HTML report, the Iceberg snapshot summaries or the server's log."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.devstack import mlflow_server, object_store, processes
from spark_mm.devstack import stack as devstack
from spark_mm.engine.runner import Runner
from spark_mm.errors import RecipeError
from spark_mm.report.mlflow_log import Published, publish_run

NS = "mlflow_srv"
RUN_ID = "srv-1"
BUCKET = "tracking"
SECRET = "hunter2-not-for-logs-7f3a"  # given the standard ways; must surface nowhere
SIZES = [(240, 260), (120, 300), (300, 220), (90, 90), (400, 200), (210, 210)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[mlflow_server.MlflowServer, object_store.ObjectStore, Path, float]]:
    pytest.importorskip("moto.server", reason="moto's server holds the artifacts (spark-mm[stack])")
    root = tmp_path_factory.mktemp("mlflow_server")
    store = object_store.start(root / "logs")
    try:
        object_store.create_bucket(store, BUCKET)
        t0 = time.monotonic()
        srv = mlflow_server.start(root / "logs", root / "mlflow", store, BUCKET)
        started = time.monotonic() - t0
        try:
            yield srv, store, root, started
        finally:
            mlflow_server.stop(srv)
    finally:
        processes.stop(store.pid)
    assert not processes.alive(srv.pid)


def _png(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def tracked(server, spark: SparkSession, lake_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[recipes.LoadedRecipe, Published]]:  # type: ignore[no-untyped-def]
    """One run of a one-stage image recipe (meta, signals, quality filter), logged to the server, with the secret in the
    environment and in the session's catalog properties (where spark-submit --conf puts it)."""
    srv, _, _, _ = server
    source = tmp_path_factory.mktemp("mlflow_src") / "images.parquet"
    pq.write_table(pa.table({"image": pa.array([_png(s) for s in SIZES], pa.binary())}), source)
    key = "spark.sql.catalog.lake.s3.secret-access-key"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        spark.conf.set(key, SECRET)
        try:
            loaded = recipes.from_mapping(
                {
                    "job": "mlflow_server_test",
                    "namespace": NS,
                    "source": {"type": "parquet", "path": str(source), "image_column": "image"},
                    "lake": {"buckets": 4},
                    "tracking": {"mlflow_uri": srv.uri, "experiment": "server_test"},
                    "stages": [{"name": "meta", "ops": [{"op": "img_meta"}, {"op": "img_signals"}, {"op": "img_quality_filter", "min_side_px": 200, "max_aspect_ratio": None}]}],
                }
            )
            result = Runner(loaded, run_id=RUN_ID, spark=spark).run()
            yield loaded, publish_run(spark, result, loaded, root=lake_home)
        finally:
            spark.conf.unset(key)


def test_run_is_read_back_from_the_server(server, tracked, spark: SparkSession, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    srv, store, _, started = server
    loaded, pub = tracked
    assert pub.mlflow is not None and pub.mlflow.tracking_uri == srv.uri
    client = MlflowClient(srv.uri)
    run = client.get_run(pub.mlflow.mlflow_run_id)
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == "server_test" and exp.artifact_location.startswith("mlflow-artifacts:")  # proxied by the server
    p, m, t = run.data.params, run.data.metrics, run.data.tags
    assert p["namespace"] == NS and p["stages.0.ops.2.min_side_px"] == "200" and p["recipe.sha256"] == loaded.sha256
    n = spark.sql(f"SELECT count(*) FROM lake.{NS}.samples").first()[0]
    assert n == len(SIZES) and m["stage.meta.rows_in"] == n
    kept = sum(1 for w, h in SIZES if min(w, h) >= 200)
    assert m["op.meta.img_quality_filter.rows_out"] == kept and m["op.meta.img_quality_filter.pass_rate"] == pytest.approx(kept / n)
    assert t["spark-mm.run-id"] == RUN_ID and run.info.status == "FINISHED"
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == sorted([f"{RUN_ID}.html", "recipe.yaml"])
    got = Path(client.download_artifacts(run.info.run_id, f"{RUN_ID}.html", str(tmp_path)))
    assert got.read_bytes() == pub.report.read_bytes()
    # the bytes live in the stack's bucket, written by the server (the job has no S3 client of its own)
    import boto3

    s3 = boto3.client("s3", endpoint_url=store.endpoint, region_name=object_store.REGION, aws_access_key_id=object_store.DEV_ACCESS_KEY, aws_secret_access_key=object_store.DEV_SECRET_KEY)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="mlartifacts/").get("Contents", [])]
    assert any(k.endswith(f"/{run.info.run_id}/artifacts/{RUN_ID}.html") for k in keys), keys
    assert started < 120


def test_secrets_appear_nowhere(server, tracked, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    srv, _, root, _ = server
    _, pub = tracked
    assert pub.mlflow is not None
    run = MlflowClient(srv.uri).get_run(pub.mlflow.mlflow_run_id)
    secrets = (SECRET, object_store.DEV_SECRET_KEY)  # ours, and the one the server itself holds for the bucket
    shown = {
        "params": json.dumps(run.data.params),
        "tags": json.dumps(run.data.tags),
        "report": pub.report.read_text(encoding="utf-8"),
        "server log": (root / "logs" / "mlflow_server.log").read_text(errors="replace"),
        "server command line": Path(f"/proc/{srv.pid}/cmdline").read_bytes().decode(errors="replace") if Path(f"/proc/{srv.pid}").exists() else "",
    }
    tables = [r.tableName for r in spark.sql(f"SHOW TABLES IN lake.{NS}").collect()]
    assert "samples" in tables
    for table in tables:  # the lease table may have no snapshot; the data tables carry spark-mm's properties
        rows = spark.sql(f"SELECT summary FROM lake.{NS}.{table}.snapshots").collect()
        shown[f"{table} snapshot summaries"] = json.dumps([dict(r.summary) for r in rows])
    assert RUN_ID in shown["samples snapshot summaries"] and RUN_ID in shown["signals_meta snapshot summaries"]
    for where, text in shown.items():
        for secret in secrets:
            assert secret not in text, f"a secret is shown in the {where}"
    assert "server_test" in shown["report"] or RUN_ID in shown["report"]  # the report was really read
    # and the recipe refuses it outright where it would be hashed and shown
    for where in ("lake.properties.s3.secret-access-key", "spark.conf.spark.sql.catalog.lake.s3.secret-access-key"):
        with pytest.raises(RecipeError) as err:
            recipes.load(Path(__file__).resolve().parents[2] / "conf" / "z_image.yaml", [f"{where}={SECRET}"])
        assert SECRET not in str(err.value)


def test_stack_state_file_keeps_the_server(tmp_path: Path) -> None:
    """The state file round-trips the optional tracking part, and one written without it loads."""
    srv = mlflow_server.MlflowServer(pid=os.getpid(), port=5123, artifacts=f"s3://{devstack.BUCKET}/mlartifacts")
    with_tracking = devstack.Stack(str(tmp_path), object_store.ObjectStore(1, 2), devstack.rest_catalog.RestCatalog(3, 4), 1.5, tracking=srv)
    devstack.state_file(tmp_path).write_text(json.dumps(asdict(with_tracking)))
    assert devstack.load(tmp_path) == with_tracking
    raw = asdict(with_tracking)
    del raw["tracking"]  # a state file from before the server was part of the stack
    devstack.state_file(tmp_path).write_text(json.dumps(raw))
    loaded = devstack.load(tmp_path)
    assert loaded is not None and loaded.tracking is None and loaded.catalog.port == 4
