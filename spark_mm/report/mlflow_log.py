"""Every job run is an MLflow run: recipe as params and artifact, metrics, snapshot tags, the report.

Where runs go, first match wins:

1. the recipe's ``tracking.mlflow_uri`` (or ``--set tracking.mlflow_uri=...``);
2. the ``MLFLOW_TRACKING_URI`` environment variable;
3. ``sqlite:///<home>/mlflow.db``, artifacts in ``<home>/mlartifacts`` (MLflow >= 3.7 would
   otherwise create ``mlflow.db`` in whatever directory the job started in).

``tracking.enabled: false`` turns logging off. The MLflow run is found again by its
``spark-mm.run-id`` tag, so a retried or resumed run id updates its MLflow run instead of adding a
second one. ``mlflow`` is imported lazily; without it :class:`~spark_mm.errors.MissingDependency`
says what to install.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from spark_mm.errors import MissingDependency
from spark_mm.lake.identifiers import mlflow_string
from spark_mm.paths import home
from spark_mm.report.metrics import RunMetrics

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient
    from pyspark.sql import SparkSession

    from spark_mm.engine.runner import RunResult
    from spark_mm.recipe import LoadedRecipe

log = logging.getLogger(__name__)

TAG_PREFIX = "spark-mm."
RUN_ID_TAG = f"{TAG_PREFIX}run-id"
MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value
_BATCH_PARAMS = 100  # MLflow's limits per log_batch call
_BATCH_METRICS = 1000


@dataclass(frozen=True)
class MlflowTarget:
    """Where a run is logged: tracking URI, experiment, and the artifact root for new experiments."""

    tracking_uri: str
    experiment: str
    artifact_location: str | None = None


@dataclass(frozen=True)
class LoggedRun:
    """The MLflow run a job run was logged to."""

    tracking_uri: str
    experiment_id: str
    mlflow_run_id: str


def default_tracking_uri(root: Path | None = None) -> str:
    """``sqlite:///<home>/mlflow.db``."""
    return f"sqlite:///{(root or home()) / 'mlflow.db'}"


def resolve_target(recipe_uri: str | None, experiment: str, env: Mapping[str, str] | None = None, root: Path | None = None) -> MlflowTarget:
    """Pick the tracking URI (recipe, then ``MLFLOW_TRACKING_URI``, then the project store).

    >>> resolve_target("http://mlflow:5000", "z_image", env={}).tracking_uri
    'http://mlflow:5000'
    >>> resolve_target(None, "z_image", env={"MLFLOW_TRACKING_URI": "sqlite:////x/m.db"}).tracking_uri
    'sqlite:////x/m.db'
    >>> t = resolve_target(None, "z_image", env={}, root=Path("/h"))
    >>> t.tracking_uri, t.artifact_location
    ('sqlite:////h/mlflow.db', 'file:///h/mlartifacts')
    """
    env = os.environ if env is None else env
    uri = recipe_uri or env.get("MLFLOW_TRACKING_URI") or default_tracking_uri(root)
    artifacts = None
    if uri.startswith("sqlite:///"):  # a local store: keep artifacts beside the database, not in cwd
        artifacts = Path(uri[len("sqlite:///") :]).parent.joinpath("mlartifacts").as_uri()
    return MlflowTarget(uri, experiment, artifacts)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Flatten a recipe into ``--set``-style keys (``stages.0.ops.1.mode``) and string values.

    >>> dict(flatten({"a": {"b": [1, {"c": None}]}, "d": True}))
    {'a.b.0': '1', 'a.b.1.c': 'None', 'd': 'True'}
    """
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, str(value)[:MAX_PARAM_VALUE]


def _key(text: str) -> str:
    """A metric key MLflow accepts (letters, digits, ``_ - . /`` and space)."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in text)


def run_metrics(m: RunMetrics) -> dict[str, float]:
    """The MLflow metrics of a run: per stage and per operator rows, pass rate, errors, throughput.

    >>> from spark_mm.report.metrics import OperatorMetrics, ReasonCount
    >>> op = OperatorMetrics("s", "f", "f@1", True, 10, 1, 6, 3, 1, (ReasonCount("too_small", 3),), 10, 6, 2.0)
    >>> got = run_metrics(RunMetrics("r", "j", "n", "c", "", "", "", "", (), (op,), (), ()))
    >>> got["op.s.f.pass_rate"], got["op.s.f.reason.too_small"], got["op.s.f.rows_per_s"]
    (0.6, 3.0, 5.0)
    """
    out: dict[str, float] = {"run.funnel_rows": float(m.funnel_rows), "run.kept_rows": float(m.kept_rows)}
    for s in m.stages:
        p = _key(f"stage.{s.stage}")
        out[f"{p}.rows_in"] = float(s.rows_in)
        out[f"{p}.rows_out"] = float(s.rows_out)
        out[f"{p}.rows_with_errors"] = float(s.rows_with_errors)
        out[f"{p}.rows_recomputed"] = float(s.recomputed)
        out[f"{p}.seconds"] = float(s.seconds)
        if s.rows_per_s is not None:
            out[f"{p}.rows_per_s"] = s.rows_per_s
    for o in m.operators:
        p = _key(f"op.{o.stage}.{o.name}")
        out[f"{p}.rows"] = float(o.rows)
        out[f"{p}.rows_in"] = float(o.funnel_in)
        out[f"{p}.rows_out"] = float(o.funnel_out)
        out[f"{p}.errors"] = float(o.errors)
        if o.pass_rate is not None:
            out[f"{p}.pass_rate"] = o.pass_rate
        if o.passed is not None:
            out[f"{p}.passed"] = float(o.passed)
        for r in o.reasons:
            out[_key(f"{p}.reason.{r.reason}")] = float(r.count)
        if o.seconds is not None:
            out[f"{p}.seconds"] = float(o.seconds)
        if o.rows_per_s is not None:
            out[f"{p}.rows_per_s"] = o.rows_per_s
    for e in m.errors:
        if e.op == "ingest":
            out["op.ingest.ingest.errors"] = float(e.count)
    return out


def run_tags(m: RunMetrics) -> dict[str, str]:
    """Lineage tags: run id, job, recipe digest, code version, and each stage's snapshot id."""
    tags = {
        "mlflow.runName": m.run_id,
        RUN_ID_TAG: m.run_id,
        f"{TAG_PREFIX}job": m.job,
        f"{TAG_PREFIX}namespace": f"{m.catalog}.{m.namespace}",
        f"{TAG_PREFIX}recipe-sha256": m.recipe_sha256,
        f"{TAG_PREFIX}code-version": m.code_version,
    }
    for s in m.stages:
        tags[f"{TAG_PREFIX}snapshot.{s.stage}"] = "" if s.snapshot_id is None else str(s.snapshot_id)
        tags[f"{TAG_PREFIX}table.{s.stage}"] = s.table
    if m.skipped_models:
        tags[f"{TAG_PREFIX}skipped-models"] = "; ".join(f"{stage}: {', '.join(ops)}" for stage, ops in m.skipped_models)
    return tags


def require_mlflow() -> None:
    """Raise :class:`MissingDependency` with the install command when mlflow is not importable."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise MissingDependency(
            "MLflow logging needs the mlflow package: pip install 'mlflow>=3.7' "
            "(or turn logging off with --set tracking.enabled=false)"
        ) from None


def _client(uri: str) -> MlflowClient:
    require_mlflow()
    from mlflow.tracking import MlflowClient

    logging.getLogger("alembic").setLevel(logging.WARNING)  # the SQLite store migrates on first use
    return MlflowClient(tracking_uri=uri)


def _chunks(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def log_run(m: RunMetrics, recipe_text: str, report: Path | None, target: MlflowTarget) -> LoggedRun:
    """Log one job run (creating the experiment and the MLflow run when they do not exist yet).

    Args:
        m: the run's metrics.
        recipe_text: the exact recipe text the run used (params are flattened from it).
        report: the HTML report to attach, if one was written.
        target: where to log (see :func:`resolve_target`).

    Returns:
        The tracking URI, experiment id and MLflow run id.
    """
    from mlflow.entities import Metric, Param, RunTag

    client = _client(target.tracking_uri)
    exp = client.get_experiment_by_name(target.experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(target.experiment, artifact_location=target.artifact_location)
    found = client.search_runs([exp_id], filter_string=f"tags.`{RUN_ID_TAG}` = {mlflow_string(m.run_id)}", max_results=1)
    run = found[0] if found else client.create_run(exp_id, run_name=m.run_id, tags={RUN_ID_TAG: m.run_id})
    rid = run.info.run_id
    client.update_run(rid, status="RUNNING")

    raw = yaml.safe_load(recipe_text) or {}
    params = dict(flatten(raw))
    params["recipe.sha256"] = m.recipe_sha256
    logged = dict(run.data.params) if found else {}
    new_params = [Param(k[:250], v) for k, v in params.items() if k[:250] not in logged]  # params are write-once
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in run_metrics(m).items()]
    tags = [RunTag(k, v) for k, v in run_tags(m).items()]
    for chunk in _chunks(new_params, _BATCH_PARAMS):
        client.log_batch(rid, params=list(chunk))
    for chunk in _chunks(metrics, _BATCH_METRICS):
        client.log_batch(rid, metrics=list(chunk))
    client.log_batch(rid, tags=tags)

    with tempfile.TemporaryDirectory(prefix="spark-mm-mlflow-") as tmp:
        recipe_file = Path(tmp) / "recipe.yaml"
        recipe_file.write_text(recipe_text, encoding="utf-8")
        client.log_artifact(rid, str(recipe_file))
    if report is not None:
        client.log_artifact(rid, str(report))
    client.set_terminated(rid, status="FINISHED")
    return LoggedRun(target.tracking_uri, exp_id, rid)


@dataclass(frozen=True)
class Published:
    """What :func:`publish_run` produced: the report file and, unless logging is off, the MLflow run."""

    report: Path
    mlflow: LoggedRun | None


def publish_run(spark: SparkSession, result: RunResult, loaded: LoadedRecipe, root: Path | None = None) -> Published:
    """After a run: collect its metrics, write the HTML report, log the MLflow run.

    Args:
        spark: the session the run used.
        result: what the runner returned.
        loaded: the recipe the run executed; its ``tracking`` block picks the MLflow target.
        root: project home (default :func:`spark_mm.paths.home`).
    """
    from spark_mm.report.html import write_report
    from spark_mm.report.metrics import collect_metrics

    tracking = loaded.recipe.tracking
    if tracking.enabled:
        require_mlflow()  # fail before the report work, not after it
    m = collect_metrics(spark, result, loaded)
    report = write_report(m, root)
    if not tracking.enabled:
        return Published(report, None)
    target = resolve_target(tracking.mlflow_uri, tracking.experiment or m.job, root=root)
    return Published(report, log_run(m, loaded.text, report, target))
