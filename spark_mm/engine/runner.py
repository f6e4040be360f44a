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

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.dedup_stage import run_dedup_step
from spark_mm.engine.ingest import ingest
from spark_mm.engine.inputs import SAMPLES, join_inputs
from spark_mm.engine.metrics import SecondsByOp
from spark_mm.engine.plan import StagePlan, make_stage_fn
from spark_mm.engine.resources import gpu_profile
from spark_mm.engine.session import build_session
from spark_mm.errors import StageCountMismatch
from spark_mm.lake.audit import AuditReport, AuditSpec, audit
from spark_mm.lake.lease import NamespaceLease
from spark_mm.lake.lineage import Lineage, new_run_id
from spark_mm.lake.schema import SAMPLES_COLUMNS
from spark_mm.lake.tables import Lake
from spark_mm.ops.base import Resource
from spark_mm.recipe import LoadedRecipe, stage_resource
from spark_mm.sources.record_files import SAMPLES_DDL

log = logging.getLogger(__name__)

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

        self.ctx = RunContext(self.spark, self.lake, self.run_id, self.recipe.job, loaded.sha256, self.recipe.lake.buckets)

    def lineage(self, stage: str, ops: tuple[str, ...], input: str, chunk: str = "1/1") -> Lineage:
        return self.ctx.lineage(stage, ops, input, chunk)

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
        """Run under the namespace lease: a concurrent run into the same namespace waits its turn."""
        with NamespaceLease(self.spark, self.recipe.lake.catalog, self.recipe.namespace, self.run_id, self.recipe.run.lease_timeout_s):
            return self._run_leased()

    def _run_leased(self) -> RunResult:
        result = RunResult(self.run_id, self.recipe.job, self.recipe.namespace, self.recipe.lake.catalog)
        result.skipped_models = self.preflight()
        self.lake.ensure_namespace()
        self.lake.ensure_table(SAMPLES, self.spark.createDataFrame([], SAMPLES_DDL).schema)
        result.stages.append(ingest(self.ctx, self.recipe.source))
        produced: dict[str, str] = {}  # column -> table that holds it
        for plan in stage_plans(self.recipe):
            stage_result = self.run_stage(plan, produced)
            result.stages.append(stage_result)
            for f in plan.output_schema():
                if f.name not in ("sample_id", "errors", "run_id"):
                    produced[f.name] = signals_table(plan.name)
        for step in self.recipe.dedup:
            result.stages.append(run_dedup_step(self.ctx, step, produced))
        return result

    def run_stage(self, plan: StagePlan, produced: dict[str, str]) -> StageResult:
        """Run one stage in ``run.commit_chunks`` bucket groups, each written, audited and published.

        A chunk this run already published is skipped, so a killed run resumes where it stopped.
        """
        target = signals_table(plan.name)
        table = self.lake.table(target)
        spec = next(s for s in self.recipe.stages if s.name == plan.name)
        chunks = self.recipe.run.commit_chunks
        max_error_rate = spec.max_error_rate if spec.max_error_rate is not None else self.recipe.run.max_error_rate
        started = time.perf_counter()
        spark_schema = from_arrow_schema(plan.output_schema())
        self.lake.ensure_table(target, spark_schema)
        profile, note = None, ""
        if plan.resource is Resource.GPU:
            profile = gpu_profile(self.spark, plan.name, spec.resources.gpus_per_task, spec.resources.cpus_per_task)
            note = "GPU profile" if profile else "on CPU: no GPU scheduling on this master/executors"
        seconds = self.spark.sparkContext.accumulator({}, SecondsByOp())
        frame, inputs = join_inputs(self.ctx, plan.external_inputs(), produced)
        if self.lake.exists(target) and self.lake.current_snapshot_id(target) is not None:
            frame = frame.join(self.spark.table(table).select("sample_id"), "sample_id", "left_anti")
        result = StageResult(plan.name, table, 0, 0, 0, 0.0, None, note=note)
        resumed = 0
        for i in range(chunks):
            chunk = f"{i + 1}/{chunks}"
            done = self.lake.find_commit(target, self.run_id, plan.name, chunk)
            if done:
                resumed += 1
                result.rows_in += done.added_records
                result.rows_out += done.added_records
                result.rows_with_errors += self.lake.added_rows(target, done.snapshot_id).where(F.size("errors") > 0).count()
                result.snapshot_id = done.snapshot_id
                continue
            part = frame if chunks == 1 else frame.where(F.expr(f"{self.recipe.lake.catalog}.system.bucket({self.recipe.lake.buckets}, sample_id) % {chunks} = {i}"))
            rows_in = part.count()
            out = part.mapInArrow(make_stage_fn(plan, self.run_id, self.prepared.get(plan.name), seconds), spark_schema, profile=profile)
            audit_spec = AuditSpec(expected_rows=rows_in, max_error_rate=max_error_rate, required=spark_schema)
            reports: list[AuditReport] = []
            what = f"stage {plan.name!r} chunk {chunk} ({table})"
            commit = self.lake.append(target, out, self.lineage(plan.name, plan.op_ids, inputs, chunk), audit=lambda added: reports.append(audit(added, audit_spec, what)))
            rows_out = commit.added_records if commit else 0
            if rows_out != rows_in:
                raise StageCountMismatch(f"{what}: read {rows_in} rows but published {rows_out}")
            result.rows_in += rows_in
            result.rows_out += rows_out
            result.rows_with_errors += sum(r.rows_with_errors for r in reports)
            result.snapshot_id = commit.snapshot_id if commit else result.snapshot_id
        result.seconds = time.perf_counter() - started
        result.op_seconds = dict(seconds.value)
        if resumed == chunks:
            result.skipped, result.note = True, "already committed by this run"
        elif resumed:
            result.note = (result.note + "; " if result.note else "") + f"resumed: {resumed}/{chunks} chunks were already committed"
        return result
