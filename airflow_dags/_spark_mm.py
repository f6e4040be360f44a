"""Shared builder for the spark-mm DAGs: one ``spark-submit`` task per job, with retries.

DAG files in this folder only spark-submit the scripts in ``jobs/``; nothing here imports spark_mm or
pyspark (Airflow's virtualenv has neither). Where things are, read when the DAG file is parsed:

- ``SPARK_MM_REPO``: the checkout holding ``jobs/`` and ``conf/`` (default: this folder's parent).
- ``SPARK_MM_SPARK_SUBMIT``: the ``spark-submit`` to run (default: ``$SPARK_MM_REPO/.venv/bin/spark-submit``).
- ``SPARK_MM_PYTHON``: the driver/worker Python with spark_mm installed (default:
  ``$SPARK_MM_REPO/.venv/bin/python``); exported as ``PYSPARK_PYTHON``/``PYSPARK_DRIVER_PYTHON`` so
  spark-submit never picks Airflow's python3 from PATH. Set it to an empty string on a cluster whose
  nodes bring their own Python (``spark.pyspark.python`` in the conf then decides).
- ``SPARK_MM_HOME``: the project-local state directory of the embedded catalog (default:
  ``$SPARK_MM_REPO/lakehouse``, the same place ``make demo`` writes to).
- ``SPARK_MM_SPARK_CONN_ID``: the Airflow connection giving master / deploy mode (default ``spark_default``).
- ``SPARK_MM_ARCHIVE``: the spark_mm package archive for a cluster's executors, as
  ``python -m spark_mm.devstack.ship OUT.zip`` writes it (``PATH`` or ``PATH#name``; default: none,
  right for ``local[*]``, where executors import the driver's spark_mm). Every task then passes
  ``--archives PATH#spark_mm_pkg --conf spark.executorEnv.PYTHONPATH=spark_mm_pkg``, the flags
  ``ship.submit_args`` prints, so executors never rely on a checkout or virtualenv of the driver.

Read when a task runs: the DAG params (``overrides``, and per DAG e.g. ``source_path``), Airflow
Variables named by the DAG (e.g. ``spark_mm_fineweb_source_path``) and the JSON Variable
``spark_mm_spark_conf`` (extra ``--conf`` for every job, e.g. executor memory on a cluster).

Every task passes ``--run-id`` derived from the DAG run (see :func:`spark_mm_run_id`), so an Airflow
retry or a cleared task resumes the same spark-mm run: committed stages are skipped and nothing is
appended twice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, Param, Variable

SPARK_CONF_VARIABLE = "spark_mm_spark_conf"
"""Airflow Variable (JSON object) whose entries are added as ``--conf key=value`` to every job."""

ARCHIVE_NAME = "spark_mm_pkg"
"""Folder an archive without ``#name`` unpacks to in each executor's working directory (spark_mm.devstack.ship.ARCHIVE_NAME)."""

_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_OVERRIDE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_.-]+)*=")


def spark_mm_run_id(dag_id: str, airflow_run_id: str) -> str:
    """The spark-mm ``--run-id`` of one DAG run: stable across retries, safe in names and paths.

    Args:
        dag_id: the DAG's id (two DAGs' runs never share an id).
        airflow_run_id: Airflow's ``run_id`` (``scheduled__<logical date>``, ``manual__<time>``, ...).

    Returns:
        ``airflow-<dag_id>-<run_id>`` with every run of characters outside ``[A-Za-z0-9_.-]`` replaced
        by ``-``.

    >>> spark_mm_run_id("z_image", "scheduled__2026-01-02T00:00:00+00:00")
    'airflow-z_image-scheduled__2026-01-02T00-00-00-00-00'
    """
    return "airflow-" + _RUN_ID_UNSAFE.sub("-", f"{dag_id}-{airflow_run_id}").strip("-")


def override_args(overrides: Sequence[str]) -> list[str]:
    """``--set`` arguments for ``KEY=VALUE`` recipe overrides; rejects anything else early.

    Raises:
        ValueError: an entry is not ``dotted.key=value``.

    >>> override_args(["namespace=test", "lake.buckets=4"])
    ['--set', 'namespace=test', '--set', 'lake.buckets=4']
    """
    args: list[str] = []
    for item in overrides:
        if not isinstance(item, str) or not _OVERRIDE.match(item):
            raise ValueError(f"recipe override {item!r} is not KEY=VALUE (e.g. namespace=test, lake.buckets=4)")
        args += ["--set", item]
    return args


def archive_spec(value: str) -> str:
    """``--archives`` value for ``SPARK_MM_ARCHIVE``: ``PATH#name``, the name defaulting to :data:`ARCHIVE_NAME`.

    Raises:
        ValueError: the name after ``#`` is empty or not a plain folder name.

    >>> archive_spec("/d/spark_mm_pkg.zip"), archive_spec("s3://b/p.zip#pkg"), archive_spec("")
    ('/d/spark_mm_pkg.zip#spark_mm_pkg', 's3://b/p.zip#pkg', '')
    """
    if not value:
        return ""
    path, _, name = value.partition("#")
    name = name or ARCHIVE_NAME
    if not path or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"SPARK_MM_ARCHIVE={value!r}: expected PATH or PATH#folder (e.g. /dist/spark_mm_pkg.zip#{ARCHIVE_NAME})")
    return f"{path}#{name}"


@dataclass(frozen=True)
class Environment:
    """Where the checkout, its spark-submit and its Python are (see the module docstring)."""

    repo: Path
    spark_submit: str
    python: str
    home: str
    conn_id: str
    archive: str = ""  # PATH#name of the package archive shipped to executors; "" ships nothing

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Environment:
        """Resolve the ``SPARK_MM_*`` variables with their defaults."""
        repo = Path(env.get("SPARK_MM_REPO") or Path(__file__).resolve().parents[1]).resolve()
        return cls(
            repo=repo,
            spark_submit=env.get("SPARK_MM_SPARK_SUBMIT") or str(repo / ".venv" / "bin" / "spark-submit"),
            python=env.get("SPARK_MM_PYTHON", str(repo / ".venv" / "bin" / "python")),
            home=env.get("SPARK_MM_HOME") or str(repo / "lakehouse"),
            conn_id=env.get("SPARK_MM_SPARK_CONN_ID") or "spark_default",
            archive=archive_spec(env.get("SPARK_MM_ARCHIVE") or ""),
        )

    def archive_conf(self) -> dict[str, str]:
        """Spark properties that put the shipped archive first on the executors' Python path."""
        if not self.archive:
            return {}
        return {"spark.executorEnv.PYTHONPATH": self.archive.rsplit("#", 1)[1]}

    def env_vars(self) -> dict[str, str]:
        """Environment of the spark-submit process (added to the worker's own environment)."""
        out = {"SPARK_MM_HOME": self.home}
        if self.python:
            out |= {"PYSPARK_PYTHON": self.python, "PYSPARK_DRIVER_PYTHON": self.python}
        return out


class SparkMMSubmitOperator(SparkSubmitOperator):
    """``SparkSubmitOperator`` for one spark-mm job: ``--recipe``, run-time ``--set``, ``--run-id``.

    After Airflow renders the templated fields, ``application_args`` becomes
    ``--recipe R [--set K=V from Variables] [--set K=V from params] [--set each params.overrides]
    --run-id <spark_mm_run_id>`` (later ``--set`` wins), and ``conf`` gains the JSON Variable
    ``spark_mm_spark_conf``. The rendered command shows in the UI's "Rendered Template" tab.

    Args:
        recipe: recipe file passed as ``--recipe``.
        param_overrides: recipe key -> DAG param name; a param that is set (not null / empty)
            becomes ``--set key=value``.
        variable_overrides: recipe key -> Airflow Variable name, used when the Variable exists and
            the param for the same key is unset.
        **kwargs: passed to ``SparkSubmitOperator`` (``application``, ``conn_id``, retries, ...).
    """

    def __init__(
        self,
        *,
        recipe: str,
        param_overrides: Mapping[str, str] | None = None,
        variable_overrides: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recipe = recipe
        self.param_overrides = dict(param_overrides or {})
        self.variable_overrides = dict(variable_overrides or {})

    def job_args(self, params: Mapping[str, Any], airflow_run_id: str) -> list[str]:
        """The job's arguments for one run (pure apart from the Variable lookups)."""
        sets: dict[str, str] = {}
        for key, name in self.variable_overrides.items():
            value = Variable.get(name, default=None)
            if value not in (None, ""):
                sets[key] = str(value)
        for key, name in self.param_overrides.items():
            value = params.get(name)
            if value not in (None, ""):
                sets[key] = str(value)
        extra = [f"{k}={v}" for k, v in sets.items()] + list(params.get("overrides") or [])
        return ["--recipe", self.recipe, *override_args(extra), "--run-id", spark_mm_run_id(self.dag_id, airflow_run_id)]

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Render as usual, then fill in the job arguments and the shared Spark conf."""
        super().render_template_fields(context, jinja_env)
        self.application_args = self.job_args(context["params"], context["run_id"])
        shared = Variable.get(SPARK_CONF_VARIABLE, default=None, deserialize_json=True) or {}
        if not isinstance(shared, dict):
            raise ValueError(f"Variable {SPARK_CONF_VARIABLE} must be a JSON object of Spark properties, got {shared!r}")
        self.conf = {**shared, **(self.conf or {})}


def spark_mm_dag(
    dag_id: str,
    *,
    job: str,
    recipe: str,
    schedule: str = "@daily",
    execution_timeout: timedelta = timedelta(hours=6),
    retries: int = 2,
    retry_delay: timedelta = timedelta(minutes=10),
    params: Mapping[str, Param] | None = None,
    param_overrides: Mapping[str, str] | None = None,
    variable_overrides: Mapping[str, str] | None = None,
    conf: Mapping[str, str] | None = None,
    doc_md: str | None = None,
    env: Environment | None = None,
) -> DAG:
    """A DAG with one task that spark-submits ``jobs/<job>.py --recipe <recipe>``.

    Args:
        dag_id: DAG id; also part of the spark-mm run id.
        job: script name under ``jobs/`` (``z_image``, ``refinedweb``).
        recipe: recipe path relative to the repo (``conf/z_image.yaml``).
        schedule: Airflow schedule (cron or preset).
        execution_timeout: kill spark-submit after this long (the try then fails and retries).
        retries: Airflow retries; each retry resumes the same spark-mm run id.
        retry_delay: first delay between tries (doubles per try, capped at 2 hours).
        params: extra DAG params besides ``overrides``.
        param_overrides: recipe key -> param name (see :class:`SparkMMSubmitOperator`).
        variable_overrides: recipe key -> Variable name (see :class:`SparkMMSubmitOperator`).
        conf: Spark properties for this job (win over the ``spark_mm_spark_conf`` Variable).
        doc_md: DAG documentation shown in the UI.
        env: paths; default :meth:`Environment.from_env`.

    Returns:
        The DAG (module-level in the DAG file, so Airflow finds it).
    """
    env = env or Environment.from_env()
    application = env.repo / "jobs" / f"{job}.py"
    all_params: dict[str, Param] = {
        "overrides": Param(
            [],
            type="array",
            items={"type": "string", "pattern": _OVERRIDE.pattern},
            description="recipe overrides KEY=VALUE, passed as --set (e.g. namespace=test, lake.buckets=4)",
        ),
        **(params or {}),
    }
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,  # runs of one job write the same tables; let them queue, not race
        params=all_params,
        doc_md=doc_md,
        tags=["spark-mm", job],
        default_args={
            "owner": "spark-mm",
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(hours=2),
            "execution_timeout": execution_timeout,
        },
    ) as dag:
        SparkMMSubmitOperator(
            task_id=f"spark_submit_{job}",
            application=str(application),
            recipe=str(env.repo / recipe),
            param_overrides=param_overrides,
            variable_overrides=variable_overrides,
            conn_id=env.conn_id,
            spark_binary=env.spark_submit,
            env_vars=env.env_vars(),
            archives=env.archive or None,
            conf={**env.archive_conf(), **(conf or {})},
            name=f"spark-mm-{dag_id}",
        )
    return dag
