"""Runs a recipe's ``links:`` step: one row per ``<img>`` into ``<ns>.image_links``, one per page into ``<ns>.signals_links``.

The step reads the pages of ``<ns>.samples`` (pinned snapshot) that have no ``signals_links`` row
yet, extracts and filters their links in one ``mapInArrow`` pass (``spark_mm.links.pages``), and
materialises the result once on the executors (links are small; payloads are not kept). Then two
audited write-audit-publish commits, links first:

1. ``image_links``: the exploded links; audited to hold exactly the links the pages yielded,
   with unique, non-null ``link_id``.
2. ``signals_links``: one row per page read (rows in = rows out), ``link_count`` saying how
   many links it has; the page's "done" mark.

A page is therefore done only once its links are published, and a retry appends nothing: a
published ``signals_links`` commit of this run skips the step, pages with a row are never read
again, and the links of a page whose ``image_links`` commit survived a crash before its
``signals_links`` commit (another run id) are not written twice (a left-anti join on
``sample_id``: a page's links are always committed together). One commit per table per run
(no ``commit_chunks``), like dedup steps. Like dedup, rows are not recomputed when the step's
thresholds change: the table keeps the alt text, URL and declared sizes, so a new threshold is a
curation query (docs/image_text.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.error_policy import ErrorPolicy, check_not_all_errors
from spark_mm.engine.inputs import join_inputs
from spark_mm.engine.progress import StageProgress
from spark_mm.lake.audit import AuditSpec, audit, child_rows_check
from spark_mm.lake.lineage import Lineage
from spark_mm.links.alt_lang import check_model
from spark_mm.links.schema import IMAGE_LINK_COLUMNS, IMAGE_LINKS_SCHEMA, PAGES_SCHEMA, SIGNALS_SCHEMA
from spark_mm.links.step import ImageLinksStep

STAGE = "links"
LINKS_TABLE = "image_links"
SIGNALS_TABLE = "signals_links"
READS = ("url", "payload", "mime_type", "record_meta")


def links_fn(step: ImageLinksStep, run_id: str, fingerprint: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function the step's ``mapInArrow`` runs on every partition (pure: ``links_batch``)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from spark_mm.links.pages import links_batch

        for batch in batches:
            yield links_batch(batch, step, run_id, fingerprint)

    return run


def run_links_step(ctx: RunContext, step: ImageLinksStep, policy: ErrorPolicy, progress: StageProgress | None = None) -> StageResult:
    """Extract the links of every page not yet in ``signals_links``; publish links, then pages.

    ``progress`` is told the pending pages before the extraction pass.
    """
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    started = time.perf_counter()
    lake.ensure_table(LINKS_TABLE, from_arrow_schema(IMAGE_LINKS_SCHEMA))
    lake.ensure_table(SIGNALS_TABLE, from_arrow_schema(SIGNALS_SCHEMA))
    result = StageResult(STAGE, lake.table(SIGNALS_TABLE), 0, 0, 0, 0.0, None)
    done = lake.find_commit(SIGNALS_TABLE, run_id, STAGE)
    if done:
        result.rows_in = result.rows_out = done.added_records
        result.snapshot_id, result.skipped, result.note = done.snapshot_id, True, "already committed by this run"
        result.seconds = time.perf_counter() - started
        return result
    check_model(step)  # a missing language model fails here, before any page is read
    frame, inputs = join_inputs(ctx, READS, {})
    if lake.current_snapshot_id(SIGNALS_TABLE) is not None:
        frame = frame.join(spark.table(lake.table(SIGNALS_TABLE)).select("sample_id"), "sample_id", "left_anti")
    if progress:
        progress.started(frame.count())
    fingerprint = step.fingerprint()
    # materialised once: both commits and their audits read it, and extraction must not run twice
    pages = frame.mapInArrow(links_fn(step, run_id, fingerprint), from_arrow_schema(PAGES_SCHEMA)).localCheckpoint(eager=True)
    totals = pages.agg(F.count(F.lit(1)), F.sum("link_count"), F.sum("link_ok_count")).first()
    n_pages, n_links, n_ok = int(totals[0]), int(totals[1] or 0), int(totals[2] or 0)
    lineage = ctx.lineage(STAGE, (step.op_id,), inputs)
    links_note = _commit_links(ctx, pages, lineage, n_links)
    signals = pages.drop("links")
    spec = AuditSpec(expected_rows=n_pages, max_error_rate=policy.max_error_rate, required=from_arrow_schema(SIGNALS_SCHEMA))
    what = f"step {STAGE!r} ({lake.table(SIGNALS_TABLE)})"

    def check(added: DataFrame) -> None:
        report = audit(added, spec, what)
        check_not_all_errors(what, report.rows, report.rows_with_errors, policy.allow_all_errors)
        result.rows_with_errors = report.rows_with_errors

    commit = lake.append(SIGNALS_TABLE, signals, lineage, audit=check)
    result.rows_in, result.rows_out = n_pages, commit.added_records if commit else 0
    result.snapshot_id = commit.snapshot_id if commit else None
    result.note = f"{n_links} links ({n_ok} pass link_laion) into {lake.table(LINKS_TABLE)}" + (f"; {links_note}" if links_note else "")
    result.seconds = time.perf_counter() - started
    return result


def _commit_links(ctx: RunContext, pages: DataFrame, lineage: Lineage, n_links: int) -> str:
    """Publish the pages' ``n_links`` links to ``image_links`` unless this run already did; returns a note."""
    spark, lake, run_id = ctx.spark, ctx.lake, ctx.run_id
    if lake.find_commit(LINKS_TABLE, run_id, STAGE):
        return "links already committed by this run"
    links = pages.select("sample_id", "link_source", F.explode("links").alias("l")).select(
        *[F.col(f"l.{c}").alias(c) if c not in ("sample_id", "link_source", "run_id") else F.col(c) for c in IMAGE_LINK_COLUMNS if c != "run_id"],
        F.lit(run_id).alias("run_id"),
    )
    note = ""
    expected = n_links  # the pages' link counts, summed once by the caller
    if lake.current_snapshot_id(LINKS_TABLE) is not None:
        held = spark.table(lake.table(LINKS_TABLE)).select("sample_id").distinct()
        links = links.join(held, "sample_id", "left_anti")
        expected = links.count()
        if expected != n_links:
            note = f"{n_links - expected} links of pages already in {lake.table(LINKS_TABLE)} (an interrupted earlier run) not written again"
    links = links.select(*IMAGE_LINK_COLUMNS)
    what = f"step {STAGE!r} ({lake.table(LINKS_TABLE)})"

    if expected:
        lake.append(LINKS_TABLE, links, lineage, audit=child_rows_check(what, expected, "link_id", "links"))
    return note
