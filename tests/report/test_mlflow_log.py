"""MLflow logging on a temporary SQLite store, from synthetic metrics (no Spark)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spark_mm.errors import MissingDependency
from spark_mm.report import mlflow_log
from spark_mm.report.mlflow_log import flatten, log_run, resolve_target, run_metrics, run_tags
from tests.report.test_html import _metrics

RECIPE = "job: fineweb\nnamespace: t\nsource: {type: jsonl, path: /x}\nstages:\n- name: text\n  ops:\n  - {op: txt_length, min_words: 50}\n"


def test_target_resolution_order(tmp_path: Path) -> None:
    env = {"MLFLOW_TRACKING_URI": "http://tracking:5000"}
    assert resolve_target("sqlite:////a/b.db", "j", env=env).tracking_uri == "sqlite:////a/b.db"
    assert resolve_target(None, "j", env=env) == mlflow_log.MlflowTarget("http://tracking:5000", "j", None)
    local = resolve_target(None, "j", env={}, root=tmp_path)
    assert local.tracking_uri == f"sqlite:///{tmp_path}/mlflow.db"
    assert local.artifact_location == (tmp_path / "mlartifacts").as_uri()


def test_metrics_and_tags_of_a_run() -> None:
    m = _metrics()
    got = run_metrics(m)
    assert got["op.text.txt_length.rows_in"] == 10 and got["op.text.txt_length.rows_out"] == 6
    assert got["op.text.txt_length.pass_rate"] == pytest.approx(0.6)
    assert got["op.text.txt_length.reason.too_short"] == 2
    assert got["op.text.txt_length.reason.too__long_"] == 1  # key sanitised for MLflow
    assert got["op.text.txt_extract.errors"] == 2 and "op.text.txt_extract.pass_rate" not in got
    assert got["op.text.txt_extract.rows_per_s"] == 10 and got["stage.text.rows_per_s"] == 2.5
    assert got["run.kept_rows"] == 6
    assert (got["stage.text.rows_recomputed"], got["stage.ingest.rows_recomputed"]) == (4, 0)
    tags = run_tags(m)
    assert tags["spark-mm.snapshot.text"] == "22" and tags["spark-mm.snapshot.ingest"] == "11"
    assert tags["spark-mm.skipped-models"] == "image_models: img_clip@1, img_siglip2@1"


def test_log_run_to_sqlite_and_retry_updates_the_same_run(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    report = tmp_path / "r.html"
    report.write_text("<html></html>")
    target = resolve_target(None, "fineweb", env={}, root=tmp_path)
    m = _metrics(run_id="run-a")
    first = log_run(m, RECIPE, report, target)
    assert (tmp_path / "mlflow.db").is_file()
    client = MlflowClient(target.tracking_uri)
    run = client.get_run(first.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["stages.0.ops.0.min_words"] == "50"
    assert run.data.params["source.type"] == "jsonl"
    assert run.data.params["recipe.sha256"] == m.recipe_sha256
    assert run.data.metrics["op.text.txt_length.pass_rate"] == pytest.approx(0.6)
    assert run.data.tags["spark-mm.run-id"] == "run-a" and run.data.tags["mlflow.runName"] == "run-a"
    assert sorted(a.path for a in client.list_artifacts(first.mlflow_run_id)) == ["r.html", "recipe.yaml"]
    assert run.info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())

    again = log_run(_metrics(run_id="run-a", kept_rows=7), RECIPE, None, target)  # a retried run id
    assert again.mlflow_run_id == first.mlflow_run_id
    assert client.get_run(first.mlflow_run_id).data.metrics["run.kept_rows"] == 7
    other = log_run(_metrics(run_id="run-b"), RECIPE, None, target)
    assert other.mlflow_run_id != first.mlflow_run_id
    assert len(client.search_runs([first.experiment_id])) == 2


def test_flatten_keeps_override_paths() -> None:
    assert dict(flatten({"stages": [{"ops": [{"op": "x", "k": [1, 2]}]}], "e": []})) == {
        "stages.0.ops.0.op": "x",
        "stages.0.ops.0.k.0": "1",
        "stages.0.ops.0.k.1": "2",
        "e": "[]",
    }


def test_missing_mlflow_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    with pytest.raises(MissingDependency, match=r"pip install 'mlflow>=3.7'.*tracking.enabled=false"):
        mlflow_log.require_mlflow()
