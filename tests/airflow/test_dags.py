"""The Airflow DAGs, driven through Airflow's own virtualenv (.venv-airflow) in subprocesses.

Airflow cannot share .venv (its Spark provider pulls pyspark-client, which overwrites pyspark), so each
test runs a short script with ``.venv-airflow/bin/python`` and reads back one JSON line; Iceberg
results are then checked here, in the main env, with pyiceberg. Without .venv-airflow the tests skip
(scripts/setup_airflow.sh creates it), except under CI, where a missing venv is a failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

AIRFLOW_PY = REPO / ".venv-airflow" / "bin" / "python"
DAGS = REPO / "airflow_dags"
_MARK = "@@RESULT@@"

# Loads the DAG folder the way the DAG processor does (a bundle: the folder is on sys.path).
_PRELUDE = f"""
import json, os, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
sys.path.insert(0, {str(DAGS)!r})
_folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
bag = BundleDagBag(dag_folder=_folder, bundle_path=Path(_folder))
def emit(obj):
    print({_MARK!r} + json.dumps(obj, default=str), flush=True)
"""


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, throw-away AIRFLOW_HOME made by scripts/setup_airflow.sh (venv step is stamp-skipped)."""
    if not AIRFLOW_PY.exists():
        reason = f"{AIRFLOW_PY} not found: run scripts/setup_airflow.sh (Airflow lives in its own venv)"
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI must have it (scripts/setup.sh --dev, i.e. make test, sets it up)")
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, "AIRFLOW_HOME": str(home)}
    proc = subprocess.run(["bash", str(REPO / "scripts" / "setup_airflow.sh")], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return home


def run_airflow(script: str, airflow_home: Path, cwd: Path, extra_env: dict[str, str] | None = None, dags: Path = DAGS, timeout: int = 600) -> Any:
    """Run ``script`` (after the DagBag prelude over ``dags``) with Airflow's python; returns what it ``emit``-ed."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),  # dag.test() syncs the DAGs of this folder to the DB
        # A connection from the environment wins over the DB's; local[2] keeps the 2-core box usable.
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": "local[2]"}),
        **(extra_env or {}),
    }
    proc = subprocess.run([str(AIRFLOW_PY), "-c", _PRELUDE + textwrap.dedent(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = [line[len(_MARK) :] for line in proc.stdout.splitlines() if line.startswith(_MARK)]
    assert proc.returncode == 0 and out, f"rc={proc.returncode}\n--- stdout (tail)\n{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-6000:]}"
    return json.loads(out[-1])


def test_dagbag_imports_cleanly_with_schedules_and_retries(airflow_home: Path, tmp_path: Path) -> None:
    got = run_airflow(
        """
        from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
        dags = {}
        for dag_id, dag in bag.dags.items():
            dags[dag_id] = {
                "schedule": str(dag.schedule), "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
                "params": sorted(dag.params.keys()),
                "tasks": [{
                    "spark_submit": isinstance(t, SparkSubmitOperator), "retries": t.retries,
                    "retry_delay_s": t.retry_delay.total_seconds(),
                    "timeout_s": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                    "application": t.application, "recipe": t.recipe, "spark_binary": t._spark_binary,
                    "conn_id": t._conn_id, "env_vars": t.env_vars, "archives": t._archives, "conf": t.conf,
                } for t in dag.tasks],
            }
        emit({"errors": bag.import_errors, "dags": dags,
              "leaked": sorted(m for m in sys.modules if m.split(".")[0] in ("spark_mm", "pyspark"))})
        """,
        airflow_home,
        tmp_path,
    )
    assert got["errors"] == {}
    assert got["leaked"] == [], "DAG files must only spark-submit; they imported spark_mm/pyspark"
    assert set(got["dags"]) == {"z_image", "fineweb", "refinedweb", "video"}
    recipes = {"z_image": "conf/z_image.yaml", "fineweb": "conf/fineweb.yaml", "refinedweb": "conf/refinedweb.yaml", "video": "conf/video.yaml"}
    jobs = {"z_image": "jobs/z_image.py", "fineweb": "jobs/refinedweb.py", "refinedweb": "jobs/refinedweb.py", "video": "jobs/video.py"}
    for dag_id, dag in got["dags"].items():
        assert dag["schedule"] == "@daily", dag_id
        assert dag["max_active_runs"] == 1 and dag["catchup"] is False, dag_id
        assert "overrides" in dag["params"], dag_id
        (task,) = dag["tasks"]
        assert task["spark_submit"], dag_id
        assert task["retries"] >= 1 and task["retry_delay_s"] > 0 and task["timeout_s"], (dag_id, task)
        assert task["application"] == str(REPO / jobs[dag_id]) and Path(task["application"]).is_file()
        assert task["recipe"] == str(REPO / recipes[dag_id]) and Path(task["recipe"]).is_file()
        assert task["spark_binary"] == str(REPO / ".venv" / "bin" / "spark-submit")
        assert task["conn_id"] == "spark_default"
        assert task["env_vars"]["PYSPARK_PYTHON"] == str(REPO / ".venv" / "bin" / "python")
        assert task["archives"] is None and "spark.executorEnv.PYTHONPATH" not in task["conf"], "no SPARK_MM_ARCHIVE: nothing shipped"
    for web in ("fineweb", "refinedweb"):
        assert "source_path" in got["dags"][web]["params"]


def test_job_args_run_id_overrides_and_source_path_precedence(airflow_home: Path, tmp_path: Path) -> None:
    got = run_airflow(
        """
        import doctest
        import _spark_mm
        from _spark_mm import spark_mm_run_id
        z, fw = bag.dags["z_image"].tasks[0], bag.dags["fineweb"].tasks[0]
        rid = "scheduled__2026-01-02T00:00:00+00:00"
        try:
            z.job_args({"overrides": ["not an override"]}, rid)
            bad = None
        except ValueError as e:
            bad = str(e)
        emit({
            "z": z.job_args({"overrides": ["namespace=t", "lake.buckets=4"]}, rid),
            "z_retry": z.job_args({"overrides": ["namespace=t", "lake.buckets=4"]}, rid),
            "fw_variable": fw.job_args({"source_path": None, "overrides": []}, rid),
            "fw_param": fw.job_args({"source_path": "/crawl/b", "overrides": []}, rid),
            "rb_default": bag.dags["refinedweb"].tasks[0].job_args({"source_path": None, "overrides": []}, rid),
            "bad": bad,
            "odd_run_id": spark_mm_run_id("z_image", "manual__2026-01-02T03:04:05.678+00:00/x y"),
            "doctests": doctest.testmod(_spark_mm)._asdict(),
        })
        """,
        airflow_home,
        tmp_path,
        # An Airflow Variable from the environment; only the fineweb DAG reads this name.
        extra_env={"AIRFLOW_VAR_SPARK_MM_FINEWEB_SOURCE_PATH": "/crawl/a"},
    )
    rid = "airflow-z_image-scheduled__2026-01-02T00-00-00-00-00"
    assert got["z"] == ["--recipe", str(REPO / "conf/z_image.yaml"), "--set", "namespace=t", "--set", "lake.buckets=4", "--run-id", rid]
    assert got["z_retry"] == got["z"], "a retry of the same DAG run must resume the same spark-mm run id"
    assert got["fw_variable"][2:4] == ["--set", "source.path=/crawl/a"]
    assert got["fw_param"][2:4] == ["--set", "source.path=/crawl/b"], "the trigger param wins over the Variable"
    assert got["fw_param"][-1] == "airflow-fineweb-scheduled__2026-01-02T00-00-00-00-00"
    assert got["rb_default"] == ["--recipe", str(REPO / "conf/refinedweb.yaml"), "--run-id", "airflow-refinedweb-scheduled__2026-01-02T00-00-00-00-00"]
    assert got["bad"] and "not KEY=VALUE" in got["bad"]
    assert got["doctests"]["failed"] == 0 and got["doctests"]["attempted"] >= 2, got["doctests"]
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", got["odd_run_id"]) and got["odd_run_id"].startswith("airflow-z_image-manual__")


def test_failed_submit_is_retried_with_the_same_run_id(airflow_home: Path, tmp_path: Path) -> None:
    """A non-zero spark-submit fails the try; the retry resubmits the same spark-mm run id; then the run fails.

    ``SPARK_MM_SPARK_SUBMIT`` points at a stand-in that records its arguments and exits 1, so this
    checks Airflow's side (retries, exit code, run id per try) in seconds; the real spark-submit
    runs in the z_image test below.
    """
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "spark-submit"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho "simulated job failure" >&2\nexit 1\n')
    fake.chmod(0o755)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "failing_dag.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            from datetime import timedelta
            sys.path.insert(0, {str(DAGS)!r})
            from _spark_mm import spark_mm_dag  # an airflow DAG built like the real ones
            dag = spark_mm_dag("z_image_fails", job="z_image", recipe="conf/z_image.yaml", retries=1, retry_delay=timedelta(seconds=1))
            """
        )
    )
    got = run_airflow(
        """
        from _spark_mm import spark_mm_run_id
        dr = bag.dags["z_image_fails"].test(run_conf={"overrides": ["namespace=t"]})
        emit({"state": str(dr.state), "run_id": spark_mm_run_id("z_image_fails", dr.run_id),
              "tis": {ti.task_id: [str(ti.state), ti.try_number] for ti in dr.get_task_instances()}})
        """,
        airflow_home,
        tmp_path,
        extra_env={"SPARK_MM_SPARK_SUBMIT": str(fake), "SPARK_MM_HOME": str(tmp_path / "lakehouse")},
        dags=dags,
    )
    assert got["state"] == "failed"
    assert got["tis"] == {"spark_submit_z_image": ["failed", 2]}, "one try plus one retry, both failed"
    tries = calls.read_text().splitlines()
    assert len(tries) == 2 and tries[0] == tries[1], tries
    assert tries[0].split()[-4:] == ["--set", "namespace=t", "--run-id", got["run_id"]]
    assert "--master local[2]" in tries[0] and str(REPO / "jobs" / "z_image.py") in tries[0]


@pytest.mark.cluster
def test_dag_test_z_image_on_the_standalone_master(airflow_home: Path, tmp_path: Path, standalone, stack, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A real ``dag.test()`` of the z_image DAG whose spark-submit goes to the session's Spark
    standalone master (connection ``spark_default`` = ``spark://127.0.0.1:PORT``, client mode), the
    package shipped with ``SPARK_MM_ARCHIVE`` as on a real cluster, the tables into the stack's REST
    catalog on S3; checked with pyiceberg over REST + S3.

    ``dedup=[]``: the dedup step has its own tests; here it would only add a minute of Spark jobs.
    """
    from pyiceberg.catalog import load_catalog

    from spark_mm.devstack import object_store, ship, spark_cluster

    archive = ship.pack(tmp_path / "spark_mm_pkg.zip")
    ns = "airflow_standalone"
    overrides = [f"namespace={ns}", "lake.buckets=4", "tracking.enabled=false", "dedup=[]", *stack.set_flags()]
    # what an operator sets once for the cluster: executor sizing in the shared Variable
    cluster_conf = {"spark.executor.memory": "1g", "spark.executor.cores": "1", "spark.cores.max": "2", "spark.ui.enabled": "false"}
    got = run_airflow(
        f"""
        from _spark_mm import spark_mm_run_id
        dag = bag.dags["z_image"]
        task = dag.tasks[0]
        dr = dag.test(run_conf={{"overrides": {overrides!r}}})
        emit({{"state": str(dr.state), "spark_mm_run_id": spark_mm_run_id(dag.dag_id, dr.run_id),
               "tis": {{ti.task_id: str(ti.state) for ti in dr.get_task_instances()}},
               "archives": task._archives, "conf": task.conf}})
        """,
        airflow_home,
        tmp_path,
        extra_env={
            "SPARK_MM_HOME": str(tmp_path / "lakehouse"),
            "SPARK_MM_ARCHIVE": str(archive),
            "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(
                {"conn_type": "spark", "host": "spark://127.0.0.1", "port": standalone.master_port, "extra": {"deploy-mode": "client"}}
            ),
            "AIRFLOW_VAR_SPARK_MM_SPARK_CONF": json.dumps(cluster_conf),
            "SPARK_LOCAL_IP": "127.0.0.1",  # the client-mode driver on loopback, like the nodes
            **object_store.credentials_env(),  # the driver's store credentials (the nodes have theirs)
        },
        timeout=900,
    )
    assert got["state"] == "success", got
    assert got["tis"] == {"spark_submit_z_image": "success"}
    assert got["archives"] == f"{archive}#{ship.ARCHIVE_NAME}"
    assert got["conf"]["spark.executorEnv.PYTHONPATH"] == ship.ARCHIVE_NAME  # the flags ship.submit_args gives
    assert ship.submit_args(archive)[1] == got["archives"]

    for key, value in object_store.credentials_env().items():
        monkeypatch.setenv(key, value)
    props = stack.lake_settings(buckets=4).pyiceberg_properties() | {"s3.region": object_store.REGION}
    catalog = load_catalog("lake", **props)
    samples = catalog.load_table(f"{ns}.samples")
    n_samples = samples.scan(selected_fields=("sample_id",)).to_arrow().num_rows
    assert n_samples > 100
    for stage in ("image_cpu", "image_models"):
        assert catalog.load_table(f"{ns}.signals_{stage}").scan(selected_fields=("sample_id",)).to_arrow().num_rows == n_samples, stage
    assert all(task.file.file_path.startswith("s3://lake/warehouse/") for task in samples.scan().plan_files())
    # The commit carries the run id derived from the DAG run, so an Airflow retry resumes this run.
    summary = samples.current_snapshot().summary
    assert summary["spark-mm.run-id"] == got["spark_mm_run_id"]
    assert summary["spark-mm.job"] == "z_image"
    assert samples.spec().fields[0].transform.num_buckets == 4  # --set lake.buckets=4 reached the job

    # The application ran on the standalone master, its executors on the workers, each with the
    # archive unpacked in its working directory (native module included).
    app = catalog.load_table(f"{ns}.signals_image_cpu").current_snapshot().summary["spark.app.id"]
    state = spark_cluster.master_state(standalone.ui_url)
    assert app in {a["id"] for a in state["completedapps"]}, (app, state["completedapps"])  # type: ignore[union-attr]
    unpacked = [d for w in standalone.workers for d in Path(w.work_dir, app).glob(f"*/{ship.ARCHIVE_NAME}/spark_mm")]
    assert unpacked and all(list(d.glob("_native*.so")) for d in unpacked), unpacked
