"""Download ingest: the links of an Iceberg table → one ``<ns>.samples`` row per link, chunk by chunk.

Resumable and idempotent by content, not by run bookkeeping: the links to fetch are those whose
sample id (``("link", link_id)``, ``sources/ids.py``) has no row in ``samples`` yet, so a re-run
(same run id or a new one) fetches only what no earlier commit holds, and a finished run appends
nothing. The pending links are fetched ``chunk_links`` at a time; each chunk is one
write-audit-publish commit, so a killed run loses only the fetches of the chunk in flight.

Within a chunk the links are hash-partitioned by host into ``fetch_tasks`` tasks, so every link
of a host is fetched by one task and the fetcher's per-host limits hold for the whole chunk;
inside a task the links are interleaved across hosts (rank within host), so one big host does not
hold the task's connection window. Chunk commits are labelled ``k/K`` continuing after the
highest label this run already published, so a resumed run never reuses a WAP id.
"""

from __future__ import annotations

import math
import time
from collections import Counter

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.error_policy import check_not_all_errors
from spark_mm.engine.ingest import audit_ingest
from spark_mm.engine.inputs import SAMPLES
from spark_mm.errors import SourceError
from spark_mm.lake.audit import AuditFailed
from spark_mm.lake.lineage import PREFIX
from spark_mm.lake.tables import Commit
from spark_mm.sources.ids import link_sample_id_col
from spark_mm.sources.record_files import SAMPLES_DDL
from spark_mm.sources.specs import ImageLinksSource

STAGE = "ingest"  # the run summary, report and metrics treat it as the run's ingest
FETCH_OP = "fetch@1"  # the fetcher's version in the commits' spark-mm.ops
LINK_TABLE_COLUMNS = ("link_id", "sample_id", "page_url", "url", "alt", "title", "position")
# link signals carried into the sample's record_meta when the links table has them (null otherwise)
OPTIONAL_LINK_COLUMNS = ("link_alt_lang", "link_alt_lang_score")


def read_links(ctx: RunContext, spec: ImageLinksSource) -> tuple[str, int | None, DataFrame]:
    """The links table (full name), its current snapshot, and its rows at that snapshot passing ``where``.

    Raises:
        SourceError: the table does not exist, lacks a documented column, or ``where`` does not apply to it.
    """
    spark = ctx.spark
    namespace = spec.namespace or ctx.lake.namespace
    full = f"{ctx.lake.settings.catalog}.{namespace}.{spec.table}"
    if not spark.catalog.tableExists(full):
        raise SourceError(
            f"source.table: {full} does not exist; write it with the links stage (docs/image_text.md) "
            "or point source.namespace / source.table at an existing links table"
        )
    rows = spark.sql(f"SELECT snapshot_id FROM {full}.history WHERE is_current_ancestor ORDER BY made_current_at DESC LIMIT 1").collect()
    snapshot = int(rows[0][0]) if rows else None
    frame = spark.table(full) if snapshot is None else spark.read.option("versionAsOf", snapshot).table(full)
    missing = [c for c in LINK_TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceError(f"source.table: {full} lacks the link columns {missing}; a links table has {list(LINK_TABLE_COLUMNS)}")
    if spec.where:
        try:
            frame = frame.where(F.expr(spec.where))
            frame.schema  # noqa: B018 - forces analysis, so a bad predicate fails here, before any fetch
        except AnalysisException as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SourceError(f"source.where {spec.where!r} does not apply to {full}: {first}") from err
    return full, snapshot, frame


def ingest_image_links(ctx: RunContext, spec: ImageLinksSource, allow_all_errors: bool = False) -> StageResult:
    """Fetch every selected link that has no sample yet and append its sample, one commit per chunk."""
    lake, spark = ctx.lake, ctx.spark
    table = lake.table(SAMPLES)
    started = time.perf_counter()
    links_table, snapshot, links = read_links(ctx, spec)
    lineage_input = f"{links_table}@{snapshot}" + (f" where {spec.where}" if spec.where else "")
    compact = links.select(
        link_sample_id_col(F.col("link_id")).alias("sample_id"),
        F.col("link_id").cast("string").alias("link_id"),
        F.col("sample_id").cast("string").alias("page_sample_id"),
        F.col("page_url").cast("string").alias("page_url"),
        F.col("url").cast("string").alias("url"),
        F.col("alt").cast("string").alias("alt"),
        F.col("title").cast("string").alias("title"),
        F.col("position").cast("int").alias("position"),
        *[(F.col(c) if c in links.columns else F.lit(None)).cast("string").alias(c) for c in OPTIONAL_LINK_COLUMNS],
    )
    read = compact.agg(F.count(F.lit(1)), F.count("link_id"), F.countDistinct("link_id")).first()
    n_read, n_with_id, n_distinct = int(read[0]), int(read[1]), int(read[2])
    valid = compact.where(F.col("link_id").isNotNull()).dropDuplicates(["link_id"])
    existing = spark.table(table).select("sample_id")
    pending = (
        valid.join(existing, "sample_id", "left_anti")
        .withColumn("_host", host_col(F.col("url")))
        .localCheckpoint(eager=True)  # compact link rows only: one scan of links and samples ids for all chunks
    )
    n_pending = pending.count()
    earlier = [c for c in lake.commits(SAMPLES) if c.summary.get(f"{PREFIX}run-id") == ctx.run_id and c.summary.get(f"{PREFIX}stage") == STAGE]
    result = StageResult(STAGE, table, n_distinct, sum(c.added_records for c in earlier), 0, 0.0, earlier[-1].snapshot_id if earlier else None)
    result.rows_with_errors = sum(_error_rows(ctx, c) for c in earlier)
    reasons: Counter[str] = Counter()
    n_chunks = math.ceil(n_pending / spec.chunk_links)
    if n_chunks:
        chunk = F.pmod(F.xxhash64("sample_id"), F.lit(n_chunks))
        sizes = {int(r[0]): int(r[1]) for r in pending.groupBy(chunk).count().collect()}
        first = max((_chunk_index(c) for c in earlier), default=0)
        tasks = spec.fetch_tasks or spark.sparkContext.defaultParallelism
        source_uri = f"iceberg:{links_table}"
        for i in range(n_chunks):
            expected = sizes.get(i, 0)
            if not expected:
                continue
            label = f"{first + i + 1}/{first + n_chunks}"
            fetched = fetch_frame(pending.where(chunk == i), spec, tasks, source_uri, ctx.run_id)

            def check(added: DataFrame, expected: int = expected, label: str = label) -> None:
                rows, errors = audit_ingest(added, spark.table(table), table)
                if rows != expected:
                    raise AuditFailed(f"download into {table} chunk {label}: count check failed: {expected} links fetched but {rows} rows staged")
                check_not_all_errors(f"download into {table} chunk {label}", rows, errors, allow_all_errors)
                reasons.update({(r[0] or "ok"): int(r[1]) for r in added.groupBy("ingest_error").count().collect()})
                result.rows_with_errors += errors

            commit = lake.append(SAMPLES, fetched, ctx.lineage(STAGE, (FETCH_OP,), lineage_input, label), audit=check)
            if commit is not None:
                result.rows_out += commit.added_records
                result.snapshot_id = commit.snapshot_id
    result.seconds = time.perf_counter() - started
    result.skipped = n_pending == 0 and bool(earlier)
    result.note = summary_note(n_read, n_with_id, n_distinct, n_pending, earlier, reasons)
    return result


def fetch_frame(links: DataFrame, spec: ImageLinksSource, tasks: int, source_uri: str, run_id: str) -> DataFrame:
    """The samples rows of ``links`` (lazy): host-partitioned, interleaved across hosts, fetched in ``mapInArrow``."""
    from spark_mm.download.batches import LINK_COLUMNS, fetch_batches

    settings = spec.fetch
    by_host = Window.partitionBy("_host").orderBy("link_id")

    def fetch(batches):  # type: ignore[no-untyped-def]
        return fetch_batches(batches, settings, source_uri, run_id)

    return (
        links.repartition(tasks, "_host")
        .withColumn("_rank", F.row_number().over(by_host))
        .sortWithinPartitions("_rank", "_host")
        .select(*LINK_COLUMNS)
        .mapInArrow(fetch, SAMPLES_DDL)
    )


def host_col(url: Column) -> Column:
    """The lower-cased host of an absolute URL, '' when there is none (never fails: ANSI ``parse_url`` raises on bad URLs)."""
    return F.lower(F.regexp_extract(F.coalesce(url, F.lit("")), r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)", 1))


def _chunk_index(commit: Commit) -> int:
    """``k`` of a download commit labelled ``k/K`` (0 for anything else)."""
    head = commit.summary.get(f"{PREFIX}chunk", "").split("/", 1)[0]
    return int(head) if head.isdigit() else 0


def _error_rows(ctx: RunContext, commit: Commit) -> int:
    return int(ctx.lake.added_rows(SAMPLES, commit.snapshot_id).where(F.col("ingest_error").isNotNull()).count())


def summary_note(n_read: int, n_with_id: int, n_distinct: int, n_pending: int, earlier: list[Commit], reasons: Counter[str]) -> str:
    """The ingest line's note: links skipped and why, earlier commits of this run, fetch outcomes by reason.

    >>> summary_note(10, 9, 8, 5, [], Counter({"ok": 4, "http_status": 1}))
    '1 links with null link_id skipped; 1 repeated link_ids read once; 3 already in the table; fetched: ok=4, http_status=1'
    """
    parts = []
    if n_read != n_with_id:
        parts.append(f"{n_read - n_with_id} links with null link_id skipped")
    if n_with_id != n_distinct:
        parts.append(f"{n_with_id - n_distinct} repeated link_ids read once")
    present = n_distinct - n_pending
    if present:
        mine = sum(c.added_records for c in earlier)
        parts.append(f"{present} already in the table" + (f" ({mine} committed by this run before it resumed)" if mine else ""))
    if reasons:
        ordered = sorted(reasons.items(), key=lambda kv: (kv[0] != "ok", -kv[1], kv[0]))
        parts.append("fetched: " + ", ".join(f"{k}={v}" for k, v in ordered))
    return "; ".join(parts)
