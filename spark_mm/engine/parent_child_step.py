"""The shape both one-to-many steps share (``links:`` a page's images, ``clips:`` a video's clips).

Each reads the samples without a row in its signals table, maps every one to one parent row that
carries its child rows in an array column (one ``mapInArrow`` pass, materialised once), then makes
two audited write-audit-publish commits, children first: the exploded children (exactly as many
as the parents yielded, unique non-null ids, none already held) and then one signals row per
parent, which is the parent's "done" mark. A retry appends nothing: a published signals commit of
this run skips the step, parents with a row are never read again, and children that survived a
crash between the two commits are not written twice (a left-anti join on ``held_key``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.error_policy import ErrorPolicy, check_not_all_errors
from spark_mm.engine.inputs import join_inputs
from spark_mm.engine.progress import StageProgress
from spark_mm.lake.audit import AuditSpec, audit, child_rows_check
from spark_mm.lake.lineage import Lineage

BatchFn = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


@dataclass(frozen=True)
class ParentChildTables:
    """What one such step reads and writes.

    Attributes:
        stage: the step's stage name in lineage.
        reads: the sample columns the batch function reads.
        parents_schema: what the batch function yields (signals columns plus ``child_field``).
        signals_table / signals_schema: one row per parent.
        child_table / child_schema / child_columns: one row per child, in this column order.
        child_field: the array column of child structs in the parents' rows.
        carried: parent columns copied onto every child (``sample_id`` first).
        child_id: the children's unique id column.
        held_key: the column a surviving earlier commit is recognised by (``sample_id`` when a
            parent's children are always committed together, else ``child_id``).
        noun: what a child is called in messages ("links", "clip rows").
        held_noun: what the "already held" note calls them ("links of pages"); default ``noun``.
    """

    stage: str
    reads: tuple[str, ...]
    parents_schema: pa.Schema
    signals_table: str
    signals_schema: pa.Schema
    child_table: str
    child_schema: pa.Schema
    child_columns: tuple[str, ...]
    child_field: str
    carried: tuple[str, ...]
    child_id: str
    held_key: str
    noun: str
    held_noun: str = ""


@dataclass
class ParentChildOutcome:
    """The step's result (its note left to the caller), the extra totals it asked for, the children's note."""

    result: StageResult
    totals: tuple[int, ...] = ()
    children: int = 0
    child_note: str = ""


def run_parent_child_step(
    ctx: RunContext,
    spec: ParentChildTables,
    batch_fn: BatchFn,
    op_id: str,
    policy: ErrorPolicy,
    progress: StageProgress | None = None,
    totals: tuple[Column, ...] = (),
) -> ParentChildOutcome:
    """Run the step; ``totals`` are extra sums over the parents, returned in order for the caller's note."""
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    started = time.perf_counter()
    lake.ensure_table(spec.child_table, from_arrow_schema(spec.child_schema))
    lake.ensure_table(spec.signals_table, from_arrow_schema(spec.signals_schema))
    result = StageResult(spec.stage, lake.table(spec.signals_table), 0, 0, 0, 0.0, None)
    done = lake.find_commit(spec.signals_table, run_id, spec.stage)
    if done:
        result.rows_in = result.rows_out = done.added_records
        result.snapshot_id, result.skipped, result.note = done.snapshot_id, True, "already committed by this run"
        result.seconds = time.perf_counter() - started
        return ParentChildOutcome(result)
    frame, inputs = join_inputs(ctx, spec.reads, {})
    if lake.current_snapshot_id(spec.signals_table) is not None:
        frame = frame.join(spark.table(lake.table(spec.signals_table)).select("sample_id"), "sample_id", "left_anti")
    if progress:
        progress.started(frame.count())
    # materialised once: both commits and their audits read it, and the batch function must not run twice
    parents = frame.mapInArrow(batch_fn, from_arrow_schema(spec.parents_schema)).localCheckpoint(eager=True)
    row = parents.agg(F.count(F.lit(1)), F.sum(F.size(spec.child_field)), *totals).first()
    n_parents, n_children = int(row[0]), int(row[1] or 0)
    lineage = ctx.lineage(spec.stage, (op_id,), inputs)
    child_note = _commit_children(ctx, spec, parents, lineage, n_children)
    signals = parents.drop(spec.child_field)
    audit_spec = AuditSpec(expected_rows=n_parents, max_error_rate=policy.max_error_rate, required=from_arrow_schema(spec.signals_schema))
    what = f"step {spec.stage!r} ({lake.table(spec.signals_table)})"

    def check(added: DataFrame) -> None:
        report = audit(added, audit_spec, what)
        check_not_all_errors(what, report.rows, report.rows_with_errors, policy.allow_all_errors)
        result.rows_with_errors = report.rows_with_errors

    commit = lake.append(spec.signals_table, signals, lineage, audit=check)
    result.rows_in, result.rows_out = n_parents, commit.added_records if commit else 0
    result.snapshot_id = commit.snapshot_id if commit else None
    result.seconds = time.perf_counter() - started
    return ParentChildOutcome(result, tuple(int(v or 0) for v in row[2:]), n_children, child_note)


def _commit_children(ctx: RunContext, spec: ParentChildTables, parents: DataFrame, lineage: Lineage, n_children: int) -> str:
    """Publish the parents' ``n_children`` child rows unless this run already did; returns a note."""
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    if lake.find_commit(spec.child_table, run_id, spec.stage):
        return f"{spec.noun} already committed by this run"
    keep = (*spec.carried, "run_id")
    children = parents.select(*spec.carried, F.explode(spec.child_field).alias("c")).select(
        *[F.col(c) if c in spec.carried else F.col(f"c.{c}").alias(c) for c in spec.child_columns if c not in keep or c in spec.carried],
        F.lit(run_id).alias("run_id"),
    )
    note = ""
    expected = n_children
    if lake.current_snapshot_id(spec.child_table) is not None:
        held = spark.table(lake.table(spec.child_table)).select(spec.held_key).distinct()
        children = children.join(held, spec.held_key, "left_anti")
        expected = children.count()
        if expected != n_children:
            note = f"{n_children - expected} {spec.held_noun or spec.noun} already in {lake.table(spec.child_table)} (an interrupted earlier run) not written again"
    children = children.select(*spec.child_columns)
    what = f"step {spec.stage!r} ({lake.table(spec.child_table)})"
    if expected:
        lake.append(spec.child_table, children, lineage, audit=child_rows_check(what, expected, spec.child_id, spec.noun))
    return note
