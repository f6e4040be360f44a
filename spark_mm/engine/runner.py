"""Runs a validated recipe: ingest into the bronze table, then each stage into its signals table.

Every stage reads a pinned snapshot, writes lineage-tagged commits and checks rows in = rows out.
A stage this run already committed is skipped, and a stage only processes samples that have no
row in its table yet or whose row's fingerprint is not the recipe's (a changed threshold, a new
operator version: ``engine/fingerprint.py``), so a retried run appends nothing twice, a new crawl
only adds rows, and a changed recipe recomputes exactly the stale rows.

Order: ingest, the stages over samples, the ``clips:`` step, the stages ``over: clips`` (one row
per clip of ``video_clips``, the same pending / fingerprint / commit rules keyed by ``clip_id``),
then dedup and links.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from spark_mm.engine import stage_commit
from spark_mm.engine.clips_stage import run_clips_step
from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.dedup_stage import run_dedup_step
from spark_mm.engine.error_policy import stage_policy
from spark_mm.engine.fingerprint import StageFingerprint, stage_fingerprint
from spark_mm.engine.ingesters import ingest_source
from spark_mm.engine.links_stage import run_links_step
from spark_mm.engine.inputs import SAMPLES, STAGE_INPUTS
from spark_mm.engine.metrics import SecondsByOp
from spark_mm.engine.plan import StagePlan, make_stage_fn
from spark_mm.engine.progress import StageProgress
from spark_mm.engine.resources import gpu_profile
from spark_mm.engine.session import build_session
from spark_mm.engine.unreachable import naming_services
from spark_mm.errors import RecipeError, StageCountMismatch
from spark_mm.lake.audit import AuditSpec
from spark_mm.lake.lease import NamespaceLease
from spark_mm.lake.lineage import Lineage, new_run_id
from spark_mm.lake.tables import Commit, Lake
from spark_mm.ops.base import Resource
from spark_mm.recipe import LoadedRecipe, stage_resource
from spark_mm.sources.precheck import precheck
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
    skipped_details: dict[str, dict[str, str]] = field(default_factory=dict)  # stage -> op id -> why (where looked, how to provide)


def _say_if_skipped(progress: StageProgress, result: StageResult) -> StageResult:
    """Say so on the console when a stage had nothing to run (this run committed it already)."""
    if result.skipped:
        progress.say(f"stage {result.stage}: skipped ({result.note})")
    return result


def signals_table(stage: str) -> str:
    return f"signals_{stage}"


def stage_plans(recipe: object) -> list[StagePlan]:
    return [StagePlan(s.name, tuple(s.ops), stage_resource(s), s.over) for s in recipe.stages]  # type: ignore[attr-defined]


def recompute_targets(recipe: object, names: Iterable[str]) -> frozenset[str]:
    """Validate ``--recompute`` names: operator stages of the recipe.

    Dedup steps decide each sample once, against the history of its time (docs/dedup.md), so
    they are not recomputed; naming one is refused with that reason.

    Raises:
        RecipeError: a name is not a stage of the recipe (the message lists the accepted names).
    """
    stages = [s.name for s in recipe.stages]  # type: ignore[attr-defined]
    dedups = [f"dedup_{d.name}" for d in recipe.dedup]  # type: ignore[attr-defined]
    for name in names:
        if name in dedups:
            raise RecipeError(f"--recompute {name}: dedup steps are not recomputed (each sample is decided once against the history of its run); accepted: {stages}")
        if name not in stages:
            raise RecipeError(f"--recompute {name}: not a stage of this recipe; accepted: {stages}")
    return frozenset(names)


class Runner:
    """Executes one run of a recipe against a lake.

    Args:
        recompute: stage names (``--recompute STAGE``) whose every row is recomputed, current or not.
    """

    def __init__(
        self, loaded: LoadedRecipe, run_id: str | None = None, spark: SparkSession | None = None, recompute: Iterable[str] = ()
    ) -> None:
        self.loaded = loaded
        self.recipe = loaded.recipe
        self.recompute = recompute_targets(self.recipe, recompute)  # validated before Spark starts
        self.run_id = run_id or new_run_id()
        precheck(self.recipe.source)  # path, files, columns: refused before Spark starts and before any table exists
        self.spark = spark or build_session(self.recipe.lake, self.recipe.spark, app_name=f"spark-mm {self.recipe.job} {self.run_id}")
        self.lake = Lake(self.spark, self.recipe.lake, self.recipe.namespace)
        self.prepared: dict[str, list] = {}  # stage -> operators preflighted on the driver
        self.step = "start"  # the step running now, named when a service stops answering
        self.clip_tables: set[str] = set()  # signals tables of the stages over clips (keyed by clip_id)
        self.ctx = RunContext(self.spark, self.lake, self.run_id, self.recipe.job, loaded.sha256, self.recipe.lake.buckets)

    def lineage(self, stage: str, ops: tuple[str, ...], input: str, chunk: str = "1/1") -> Lineage:
        return self.ctx.lineage(stage, ops, input, chunk)

    def preflight(self) -> dict[str, tuple[str, ...]]:
        """Resolve model weights of every stage before any work: ``fail`` raises here, ``skip`` is reported.

        Returns:
            stage name → ids of model operators that will output nulls (weights missing, ``skip``).
        """
        return {stage: tuple(ops) for stage, ops in self.preflight_details().items()}

    def preflight_details(self) -> dict[str, dict[str, str]]:
        """:meth:`preflight` with the reason of each skip: stage → op id → where the weights were looked for."""
        from spark_mm.ops.model_base import stage_requirements

        skipped: dict[str, dict[str, str]] = {}
        for plan in stage_plans(self.recipe):
            ops = plan.operators()
            req = stage_requirements(ops)
            self.prepared[plan.name] = ops
            if req.skipped:
                reasons = {op.id: op.weights_status.message() for op in ops if getattr(op, "weights_status", None) is not None}
                skipped[plan.name] = {op_id: reasons.get(op_id, "") for op_id in req.skipped}
        return skipped

    def run(self) -> RunResult:
        """Run under the namespace lease: a concurrent run into the same namespace waits its turn.

        Raises:
            ServiceUnreachable: the catalog or the object store stopped answering (named, with its
                address and the step): re-run with the same run id once it is back.
        """
        self.step = "the namespace lease"
        with naming_services(self.recipe.lake, self.run_id, lambda: self.step):
            with NamespaceLease(self.spark, self.recipe.lake.catalog, self.recipe.namespace, self.run_id, self.recipe.run.lease_timeout_s):
                return self._run_leased()

    @contextmanager
    def _step(self, name: str) -> Iterator[StageProgress]:
        """One step of the run (ingest, a stage, dedup...): its live progress line, and its name for errors."""
        self.step = f"step {name!r}"
        with StageProgress(self.spark, name) as progress:
            yield progress

    def _run_leased(self) -> RunResult:
        result = RunResult(self.run_id, self.recipe.job, self.recipe.namespace, self.recipe.lake.catalog)
        result.skipped_details = self.preflight_details()
        result.skipped_models = {stage: tuple(ops) for stage, ops in result.skipped_details.items()}
        self.lake.ensure_namespace()
        self.lake.ensure_table(SAMPLES, self.spark.createDataFrame([], SAMPLES_DDL).schema)
        with self._step("ingest") as progress:
            result.stages.append(_say_if_skipped(progress, ingest_source(self.ctx, self.recipe.source, allow_all_errors=self.recipe.run.allow_all_errors, progress=progress)))
        produced: dict[str, str] = {}  # column -> table that holds it
        fingerprints: dict[str, str] = {}  # signals table -> the fingerprint its rows now carry
        plans = stage_plans(self.recipe)
        for plan in (p for p in plans if p.over == "samples"):
            self._stage(plan, produced, fingerprints, result)
        if self.recipe.clips is not None:
            with self._step("clips") as progress:
                result.stages.append(_say_if_skipped(progress, run_clips_step(self.ctx, self.recipe.clips, stage_policy(self.recipe.run, self.recipe.clips), progress)))
        for plan in (p for p in plans if p.over == "clips"):  # after the clips step: they read video_clips
            self._stage(plan, produced, fingerprints, result)
        for step in self.recipe.dedup:
            with self._step(f"dedup_{step.name}") as progress:
                result.stages.append(_say_if_skipped(progress, run_dedup_step(self.ctx, step, produced, progress)))
        if self.recipe.links is not None:
            with self._step("links") as progress:
                result.stages.append(_say_if_skipped(progress, run_links_step(self.ctx, self.recipe.links, stage_policy(self.recipe.run, self.recipe.links), progress)))
        return result

    def _stage(self, plan: StagePlan, produced: dict[str, str], fingerprints: dict[str, str], result: RunResult) -> None:
        """Run one operator stage and record the columns and fingerprint its table now holds."""
        fingerprint = self.fingerprint(plan, produced, fingerprints)
        with self._step(plan.name) as progress:
            result.stages.append(_say_if_skipped(progress, self.run_stage(plan, produced, fingerprint, progress)))
        fingerprints[signals_table(plan.name)] = fingerprint.digest
        for name in plan.signal_columns():
            produced[name] = signals_table(plan.name)
        if plan.over == "clips":
            self.clip_tables.add(signals_table(plan.name))

    def _check_key(self, plan: StagePlan, target: str) -> None:
        """A stage's table must be keyed as the stage runs: switching ``over`` on a kept table is refused."""
        if not self.lake.exists(target):
            return
        has_clip_id = "clip_id" in self.spark.table(self.lake.table(target)).columns
        if has_clip_id != (plan.over == "clips"):
            held = "clip_id (over: clips)" if has_clip_id else "sample_id (over: samples)"
            raise RecipeError(
                f"stage {plan.name!r} has over: {plan.over}, but {self.lake.table(target)} is keyed by {held}: "
                f"give the stage a new name (a new signals table), or drop that table to recompute it"
            )

    def fingerprint(self, plan: StagePlan, produced: dict[str, str], fingerprints: dict[str, str]) -> StageFingerprint:
        """The stage's operators' fingerprints plus those of the upstream stages it reads columns of."""
        ops = self.prepared.get(plan.name) or plan.operators()
        upstream = {produced[c]: fingerprints[produced[c]] for c in plan.external_inputs() if c in produced}
        return stage_fingerprint([op.fingerprint() for op in ops], upstream)

    def run_stage(self, plan: StagePlan, produced: dict[str, str], fingerprint: StageFingerprint, progress: StageProgress | None = None) -> StageResult:
        """Run one stage in ``run.commit_chunks`` bucket groups, each written, audited and published.

        Only pending samples are read (no row, or a stale fingerprint; all under ``--recompute``).
        A chunk this run already published is skipped, so a killed run resumes where it stopped.
        """
        target = signals_table(plan.name)
        table = self.lake.table(target)
        spec = next(s for s in self.recipe.stages if s.name == plan.name)
        chunks = self.recipe.run.commit_chunks
        policy = stage_policy(self.recipe.run, spec)
        started = time.perf_counter()
        spark_schema = from_arrow_schema(plan.output_schema())
        self._check_key(plan, target)
        self.lake.ensure_table(target, spark_schema)
        profile, note = None, ""
        if plan.resource is Resource.GPU:
            profile = gpu_profile(self.spark, plan.name, spec.resources.gpus_per_task, spec.resources.cpus_per_task)
            note = "GPU profile" if profile else "on CPU: no GPU scheduling on this master/executors"
        seconds = self.spark.sparkContext.accumulator({}, SecondsByOp())
        frame, inputs = STAGE_INPUTS[plan.over](self.ctx, plan.external_inputs(), produced, self.clip_tables)
        existing = self.spark.table(table) if self.lake.current_snapshot_id(target) is not None else None
        key = plan.keys[0]
        frame = stage_commit.pending(frame, existing, fingerprint.digest, force=plan.name in self.recompute, key=key)
        result = StageResult(plan.name, table, 0, 0, 0, 0.0, None, note=note)
        resumed = 0
        for i in range(chunks):
            chunk = f"{i + 1}/{chunks}"
            chunk_filter = None if chunks == 1 else F.expr(f"{self.recipe.lake.catalog}.system.bucket({self.recipe.lake.buckets}, sample_id) % {chunks} = {i}")
            done = self.lake.find_commit(target, self.run_id, plan.name, chunk)
            if done:
                resumed += 1
                rows = stage_commit.resumed_rows(done)
                result.rows_in += rows
                result.rows_out += rows
                result.recomputed += stage_commit.resumed_recomputed(done)
                result.rows_with_errors += self._committed_rows(target, done, chunk_filter).where(F.size("errors") > 0).count()
                result.snapshot_id = done.snapshot_id
                continue
            part = frame if chunk_filter is None else frame.where(chunk_filter)
            counts = stage_commit.count_pending(part)
            if progress:
                progress.started(counts.rows, "" if chunks == 1 else f" chunk {chunk}")
            out = stage_commit.stage_input(part).mapInArrow(
                make_stage_fn(plan, self.run_id, self.prepared.get(plan.name), seconds, fingerprint.digest), spark_schema, profile=profile
            )
            audit_spec = AuditSpec(expected_rows=counts.rows, max_error_rate=policy.max_error_rate, required=spark_schema)
            what = f"stage {plan.name!r} chunk {chunk} ({table})"
            written = stage_commit.commit_chunk(
                self.lake, target, out, self.lineage(plan.name, plan.op_ids, inputs, chunk), counts, fingerprint, audit_spec, policy, chunk_filter, what, key
            )
            if written.rows != counts.rows:
                raise StageCountMismatch(f"{what}: read {counts.rows} rows but published {written.rows}")
            result.rows_in += counts.rows
            result.rows_out += written.rows
            result.rows_with_errors += written.rows_with_errors
            result.recomputed += written.recomputed
            result.snapshot_id = written.commit.snapshot_id if written.commit else result.snapshot_id
        result.seconds = time.perf_counter() - started
        result.op_seconds = dict(seconds.value)
        if resumed == chunks:
            result.skipped, result.note = True, "already committed by this run"
        elif resumed:
            result.note = (result.note + "; " if result.note else "") + f"resumed: {resumed}/{chunks} chunks were already committed"
        if result.recomputed:
            what = "rows (--recompute)" if plan.name in self.recompute else "stale rows"
            result.note = (result.note + "; " if result.note else "") + f"recomputed {result.recomputed} {what}"
        return result

    def _committed_rows(self, target: str, commit: Commit, chunk_filter: Column | None) -> DataFrame:
        """The rows a published chunk wrote: its added rows, or (a MERGE) this run's rows at that snapshot."""
        if stage_commit.RECOMPUTED_PROP not in commit.summary:
            return self.lake.added_rows(target, commit.snapshot_id)
        at = self.spark.read.option("versionAsOf", commit.snapshot_id).table(self.lake.table(target))
        return stage_commit.chunk_rows(at, self.run_id, chunk_filter)
