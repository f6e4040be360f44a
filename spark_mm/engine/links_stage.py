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
The shared shape of both one-to-many steps lives in ``spark_mm/engine/parent_child_step.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
from pyspark.sql import functions as F

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.error_policy import ErrorPolicy
from spark_mm.engine.parent_child_step import ParentChildTables, run_parent_child_step
from spark_mm.engine.progress import StageProgress
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


LINKS = ParentChildTables(
    stage=STAGE, reads=READS, parents_schema=PAGES_SCHEMA, signals_table=SIGNALS_TABLE, signals_schema=SIGNALS_SCHEMA,
    child_table=LINKS_TABLE, child_schema=IMAGE_LINKS_SCHEMA, child_columns=tuple(IMAGE_LINK_COLUMNS), child_field="links",
    carried=("sample_id", "link_source"), child_id="link_id", held_key="sample_id", noun="links",
    held_noun="links of pages",
)  # a page's links are always committed together: a held page is recognised by its sample_id


def run_links_step(ctx: RunContext, step: ImageLinksStep, policy: ErrorPolicy, progress: StageProgress | None = None) -> StageResult:
    """Extract the links of every page not yet in ``signals_links``; publish links, then pages.

    ``progress`` is told the pending pages before the extraction pass.
    """
    check_model(step)  # a missing language model fails here, before any page is read
    fingerprint = step.fingerprint()
    out = run_parent_child_step(ctx, LINKS, links_fn(step, ctx.run_id, fingerprint), step.op_id, policy, progress, (F.sum("link_ok_count"),))
    if not out.result.skipped:
        note = f"{out.children} links ({out.totals[0]} pass link_laion) into {ctx.lake.table(LINKS_TABLE)}"
        out.result.note = note + (f"; {out.child_note}" if out.child_note else "")
    return out.result
