"""Runs a validated recipe: ingest into the bronze table, then each stage into its signals table.

Every stage reads a pinned snapshot, writes one lineage-tagged commit and checks rows in = rows
out. A stage this run already committed is skipped, and a stage only processes samples that have
no row in its table yet, so a retried run appends nothing twice and a new crawl only adds rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from spark_mm.engine.plan import StagePlan, make_stage_fn
from spark_mm.engine.resources import gpu_profile
from spark_mm.engine.session import build_session
from spark_mm.errors import StageCountMismatch
from spark_mm.lake.lineage import Lineage, code_version, new_run_id
from spark_mm.lake.schema import SAMPLES_COLUMNS
from spark_mm.lake.tables import Lake
from spark_mm.ops.base import Resource
from spark_mm.recipe import LoadedRecipe, stage_resource
from spark_mm.sources.reader import read_source
from spark_mm.sources.record_files import SAMPLES_DDL

log = logging.getLogger(__name__)

SAMPLES = "samples"


@dataclass
class StageResult:
    """What one stage did, for the run summary and the report."""

    stage: str
    table: str
    rows_in: int
    rows_out: int
    rows_with_errors: int
    seconds: float
    snapshot_id: int | None
    skipped: bool = False
    note: str = ""


@dataclass
class RunResult:
    run_id: str
    job: str
    namespace: str
    catalog: str
    stages: list[StageResult] = field(default_factory=list)
    skipped_models: dict[str, tuple[str, ...]] = field(default_factory=dict)


def signals_table(stage: str) -> str:
    return f"signals_{stage}"


def stage_plans(recipe: object) -> list[StagePlan]:
    return [StagePlan(s.name, tuple(s.ops), stage_resource(s)) for s in recipe.stages]  # type: ignore[attr-defined]


class Runner:
    """Executes one run of a recipe against a lake."""

    def __init__(self, loaded: LoadedRecipe, run_id: str | None = None, spark: SparkSession | None = None) -> None:
        self.loaded = loaded
        self.recipe = loaded.recipe
        self.run_id = run_id or new_run_id()
        self.spark = spark or build_session(self.recipe.lake, self.recipe.spark, app_name=f"spark-mm {self.recipe.job} {self.run_id}")
        self.lake = Lake(self.spark, self.recipe.lake, self.recipe.namespace)
        self.prepared: dict[str, list] = {}  # stage -> operators preflighted on the driver

    def lineage(self, stage: str, ops: tuple[str, ...], input: str) -> Lineage:
        return Lineage(self.run_id, self.recipe.job, self.loaded.sha256, code_version(), stage, ops, input)

    def preflight(self) -> dict[str, tuple[str, ...]]:
        """Resolve model weights of every stage before any work: ``fail`` raises here, ``skip`` is reported.

        Returns:
            stage name → ids of model operators that will output nulls (weights missing, ``skip``).
        """
        from spark_mm.ops.model_base import stage_requirements

        skipped = {}
        for plan in stage_plans(self.recipe):
            ops = plan.operators()
            req = stage_requirements(ops)
            self.prepared[plan.name] = ops
            if req.skipped:
                skipped[plan.name] = req.skipped
        return skipped

    def run(self) -> RunResult:
        result = RunResult(self.run_id, self.recipe.job, self.recipe.namespace, self.recipe.lake.catalog)
        result.skipped_models = self.preflight()
        self.lake.ensure_namespace()
        self.lake.ensure_table(SAMPLES, self.spark.createDataFrame([], SAMPLES_DDL).schema)
        result.stages.append(self.ingest())
        produced: dict[str, str] = {}  # column -> table that holds it
        for plan in stage_plans(self.recipe):
            stage_result = self.run_stage(plan, produced)
            result.stages.append(stage_result)
            for f in plan.output_schema():
                if f.name not in ("sample_id", "errors", "run_id"):
                    produced[f.name] = signals_table(plan.name)
        return result

    def ingest(self) -> StageResult:
        table = self.lake.table(SAMPLES)
        done = self.lake.find_commit(SAMPLES, self.run_id, "ingest")
        if done:
            return StageResult("ingest", table, done.added_records, done.added_records, 0, 0.0, done.snapshot_id, skipped=True, note="already committed by this run")
        started = time.perf_counter()
        source = read_source(self.spark, self.recipe.source, self.run_id)
        rows_in = source.frame.count()
        existing = self.spark.table(table).select("sample_id")
        new = source.frame.join(existing, "sample_id", "left_anti").select(*SAMPLES_COLUMNS)
        commit = self.lake.append(SAMPLES, new, self.lineage("ingest", (), source.input))
        added = commit.added_records if commit else 0
        errors = self.spark.table(table).where(F.col("ingest_run_id") == self.run_id).where(F.col("ingest_error").isNotNull()).count() if commit else 0
        return StageResult(
            "ingest", table, rows_in, added, errors, time.perf_counter() - started, commit.snapshot_id if commit else None,
            note=f"{rows_in - added} already in the table" if rows_in != added else "",
        )

    def stage_input(self, plan: StagePlan, produced: dict[str, str]) -> tuple[DataFrame, str]:
        """Samples (pinned snapshot) joined with earlier signals a stage reads, minus samples it already has."""
        snapshot = self.lake.current_snapshot_id(SAMPLES)
        sample_cols = [c for c in plan.external_inputs() if c in SAMPLES_COLUMNS]
        frame = self.spark.read.option("versionAsOf", snapshot).table(self.lake.table(SAMPLES)).select("sample_id", *sample_cols)
        inputs = [f"{self.lake.table(SAMPLES)}@{snapshot}"]
        by_table: dict[str, list[str]] = {}
        for col in plan.external_inputs():
            if col not in SAMPLES_COLUMNS:
                by_table.setdefault(produced[col], []).append(col)
        for name, cols in by_table.items():
            snap = self.lake.current_snapshot_id(name)
            prev = self.spark.read.option("versionAsOf", snap).table(self.lake.table(name)).select("sample_id", *cols)
            frame = frame.join(prev, "sample_id", "left")
            inputs.append(f"{self.lake.table(name)}@{snap}")
        target = signals_table(plan.name)
        if self.lake.exists(target) and self.lake.current_snapshot_id(target) is not None:
            frame = frame.join(self.spark.table(self.lake.table(target)).select("sample_id"), "sample_id", "left_anti")
        return frame, ",".join(inputs)

    def run_stage(self, plan: StagePlan, produced: dict[str, str]) -> StageResult:
        target = signals_table(plan.name)
        table = self.lake.table(target)
        done = self.lake.find_commit(target, self.run_id, plan.name)
        if done:
            return StageResult(plan.name, table, done.added_records, done.added_records, 0, 0.0, done.snapshot_id, skipped=True, note="already committed by this run")
        started = time.perf_counter()
        arrow_schema = plan.output_schema()
        spark_schema = from_arrow_schema(arrow_schema)
        self.lake.ensure_table(target, spark_schema)
        frame, inputs = self.stage_input(plan, produced)
        rows_in = frame.count()
        note = ""
        profile = None
        if plan.resource is Resource.GPU:
            res = next(s.resources for s in self.recipe.stages if s.name == plan.name)
            profile = gpu_profile(self.spark, plan.name, res.gpus_per_task, res.cpus_per_task)
            note = "GPU profile" if profile else "no resource profile on this master"
        out = frame.mapInArrow(make_stage_fn(plan, self.run_id, self.prepared.get(plan.name)), spark_schema, profile=profile)
        commit = self.lake.append(target, out, self.lineage(plan.name, plan.op_ids, inputs))
        rows_out = commit.added_records if commit else 0
        if rows_out != rows_in:
            raise StageCountMismatch(f"stage {plan.name!r}: read {rows_in} rows but committed {rows_out} to {table} (snapshot {commit.snapshot_id if commit else None})")
        with_errors = (
            self.spark.read.option("versionAsOf", commit.snapshot_id).table(table).where(F.col("run_id") == self.run_id).where(F.size("errors") > 0).count()
            if commit
            else 0
        )
        return StageResult(plan.name, table, rows_in, rows_out, with_errors, time.perf_counter() - started, commit.snapshot_id if commit else None, note=note)
