"""A run's metrics, computed from its Iceberg tables with Spark SQL, for the report and MLflow.

Every figure is read from the snapshot each stage committed and restricted to the rows the run
wrote (``run_id``), so a report can be rebuilt later and says the same thing. Only aggregates and a
bounded sample of rows (thumbnails, text snippets, duplicate clusters) ever reach the driver: whole
columns are never collected, histograms are binned inside Spark.

What is measured:

- per operator: rows it saw, rows with an error (the ``errors`` map), and for filters the pass
  count, pass rate and count per ``<filter>_reason``; a funnel applies the filters in recipe order;
- per stage: rows in/out, seconds, rows/s (and per operator when the runner measured
  ``op_seconds``);
- a histogram (20 equal bins plus p5/p50/p95) of every numeric signal column;
- thumbnails of kept and rejected images with the first failing reason, near-duplicate clusters
  when dedup columns (``dup_cluster_id``, ``dup_cluster_size``, ``dup_keep``, ``dup_reason``)
  exist, and text snippets per filter reason for text recipes;
- for a run with video tables, the video section (``spark_mm/report/video.py``): clips per video,
  splitters, video score histograms, split errors by reason, middle-keyframe thumbnails.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from spark_mm.engine.context import StageResult
from spark_mm.engine.runner import RunResult
from spark_mm.ops.base import Filter
from spark_mm.recipe import LoadedRecipe

if TYPE_CHECKING:
    from spark_mm.report.video import VideoMetrics

log = logging.getLogger(__name__)

HIST_BINS = 20
THUMB_PX = 128
KEPT_THUMBS = 12
REASON_THUMBS = 6
MAX_LABELS = 12  # thumbnail groups shown (most frequent reasons first)
DUP_CLUSTERS = 6
DUP_MEMBERS = 6
TEXT_SAMPLES = 3
SNIPPET_CHARS = 400
ERROR_MESSAGES = 3  # most frequent messages listed per operator
MESSAGE_CHARS = 120  # an error message is grouped on, and shown cut to, this many characters
MAX_THUMB_SOURCE_BYTES = 32 << 20  # larger payloads are listed without a thumbnail
MAX_THUMB_SOURCE_PIXELS = 64_000_000

DEDUP = "dedup"  # the funnel step name of dup columns found outside a dedup_<name> table
DUP_COLUMNS = ("dup_cluster_id", "dup_cluster_size", "dup_keep", "dup_reason")
# Numeric columns that are identifiers or hashes, not measurements: no histogram.
_NOT_MEASURES = re.compile(r"(hash|_key|_id|_bands|_offset)$")


@dataclass(frozen=True)
class ReasonCount:
    """Rows a filter rejected with one reason code."""

    reason: str
    count: int


@dataclass(frozen=True)
class OperatorMetrics:
    """One operator of one stage, over the rows the run wrote.

    Attributes:
        rows: rows the operator processed (every row of its stage).
        errors: rows with an entry for this operator in ``errors``.
        passed / rejected / undecided: filters only: ``ok`` true / not true / null. ``rejected``
            counts every row the filter did not keep, so ``passed + rejected == rows``; rows whose
            inputs were unusable are rejected (reason ``decode_error`` / ``missing_input``), and
            ``undecided`` is the part of ``rejected`` with no decision at all (tables written
            before filters decided such rows).
        funnel_in / funnel_out: rows still kept before / after this step when the filters are
            applied in recipe order (signal operators pass every row on).
        seconds: worker time the runner measured for the operator, when it did.
    """

    stage: str
    name: str
    op_id: str
    is_filter: bool
    rows: int
    errors: int
    passed: int | None = None
    rejected: int | None = None
    undecided: int | None = None
    reasons: tuple[ReasonCount, ...] = ()
    funnel_in: int = 0
    funnel_out: int = 0
    seconds: float | None = None

    @property
    def pass_rate(self) -> float | None:
        """Share of processed rows the filter passed (None for signal operators or no rows)."""
        if self.passed is None or self.rows == 0:
            return None
        return self.passed / self.rows

    @property
    def rows_per_s(self) -> float | None:
        if not self.seconds:
            return None
        return self.rows / self.seconds


@dataclass(frozen=True)
class StageMetrics:
    """One stage as the runner reported it, plus throughput."""

    stage: str
    table: str
    snapshot_id: int | None
    rows_in: int
    rows_out: int
    rows_with_errors: int
    seconds: float
    skipped: bool
    note: str
    op_ids: tuple[str, ...] = ()
    recomputed: int = 0  # rows that replaced stale rows (or all, under --recompute)

    @property
    def rows_per_s(self) -> float | None:
        if self.skipped or self.seconds <= 0:
            return None
        return self.rows_out / self.seconds


def short_message(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending with "…" when cut.

    The cut falls at the last space before the limit; a single word longer than the limit is cut
    hard. The "…" counts towards the limit.

    >>> short_message("empty payload", 20)
    'empty payload'
    >>> short_message("jpeg is truncated (no EOI marker)", 20)
    'jpeg is truncated…'
    >>> short_message("DecompressionBombError", 10)
    'Decompres…'
    """
    text = text.rstrip()
    if len(text) <= limit:
        return text
    head = text[: limit - 1]  # room for the ellipsis
    if text[limit - 1] != " ":  # the word at the limit goes on: back up to the last space
        space = head.rfind(" ")
        if space > 0:
            head = head[:space]
    return head.rstrip() + "…"


@dataclass(frozen=True)
class ErrorMessage:
    message: str
    count: int


@dataclass(frozen=True)
class ErrorSummary:
    """Errors one operator recorded, with its most frequent messages.

    Messages are grouped on their first ``MESSAGE_CHARS`` characters (plus one, to tell whether
    they go on) and shown cut at a word boundary by :func:`short_message`.
    """

    stage: str
    op: str
    count: int
    top: tuple[ErrorMessage, ...] = ()


@dataclass(frozen=True)
class Histogram:
    """Equal-width bins of one numeric column, computed in Spark.

    ``edges`` has ``len(counts) + 1`` entries; the last bin includes the maximum. When a few
    outliers would squash every other value into one bin (min–max range over 10 times the p5–p95
    range), the bins span p1–p99 instead and the first and last bins also count what lies beyond.
    """

    stage: str
    column: str
    count: int
    nulls: int
    minimum: float | None
    maximum: float | None
    p05: float | None
    p50: float | None
    p95: float | None
    edges: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    clipped: bool = False  # bins span p1..p99 (outliers far out); the end bins hold everything beyond
    mean: float | None = None
    std: float | None = None  # sample standard deviation (n - 1), as pandas' describe and Spark's stddev
    quantiles: tuple[tuple[float, float], ...] = ()  # (probability, approximate value) asked for beyond p5/p50/p95


def measure_columns(frame: DataFrame) -> list[str]:
    """Numeric columns of ``frame`` that are measurements (ids, hashes and offsets are not)."""
    return [
        f.name
        for f in frame.schema.fields
        if isinstance(f.dataType, T.NumericType) and not _NOT_MEASURES.search(f.name) and f.name not in ("sample_id",)
    ]


def histograms(
    frame: DataFrame,
    stage: str,
    columns: Sequence[str] | None = None,
    quantiles: Sequence[float] = (),
    accuracy: int = 1000,
) -> list[Histogram]:
    """Count, nulls, min, max, mean, std and approximate quantiles of numeric columns in one
    aggregate, then equal-width bins in a second pass; nothing but aggregates reaches the driver.

    Args:
        frame: the rows to measure.
        stage: label stored on each histogram (a stage name, or a table name for ``analyze``).
        columns: columns to measure (default: :func:`measure_columns`).
        quantiles: probabilities reported in ``Histogram.quantiles`` besides p5/p50/p95.
        accuracy: ``percentile_approx``'s accuracy; its rank error is at most ``rows / accuracy``.

    Non-finite values (NaN, ±inf) count as nulls.
    """
    cols = list(measure_columns(frame) if columns is None else columns)
    if not cols:
        return []
    probs = [0.05, 0.5, 0.95, 0.01, 0.99, *quantiles]
    finite = {c: F.when(F.col(c).cast("double").between(-1.7e308, 1.7e308), F.col(c).cast("double")) for c in cols}
    aggs: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    for i, c in enumerate(cols):
        v = finite[c]
        aggs += [
            F.count(v).alias(f"n{i}"),
            F.min(v).alias(f"lo{i}"),
            F.max(v).alias(f"hi{i}"),
            F.avg(v).alias(f"mean{i}"),
            F.stddev_samp(v).alias(f"std{i}"),
            F.percentile_approx(v, probs, accuracy).alias(f"q{i}"),
        ]
    stats = frame.agg(*aggs).first()
    rows = int(stats["__rows"] or 0)
    ranges: dict[str, tuple[float, float]] = {}
    clipped: set[str] = set()
    for i, c in enumerate(cols):
        if stats[f"n{i}"]:
            lo, hi = float(stats[f"lo{i}"]), float(stats[f"hi{i}"])
            p05, _, p95, p01, p99 = (float(x) for x in stats[f"q{i}"][:5])
            if p99 > p01 and hi - lo > 10 * max(p95 - p05, 0.0) and (p01 > lo or p99 < hi):
                lo, hi = p01, p99
                clipped.add(c)
            ranges[c] = (lo, hi)
    bins: dict[str, list[int]] = {c: [0] * HIST_BINS for c in ranges}
    if ranges:
        entries = []
        for c, (lo, hi) in ranges.items():
            width = (hi - lo) / HIST_BINS if hi > lo else 1.0
            v = finite[c]  # least() skips nulls, so keep null values out explicitly
            b = F.when(v.isNotNull(), F.greatest(F.lit(0), F.least(F.floor((v - F.lit(lo)) / F.lit(width)).cast("int"), F.lit(HIST_BINS - 1))))
            entries.append(F.struct(F.lit(c).alias("c"), b.alias("b")))
        for r in frame.select(F.inline(F.array(*entries))).where(F.col("b").isNotNull()).groupBy("c", "b").count().collect():
            bins[r["c"]][int(r["b"])] = int(r["count"])
    out = []
    for i, c in enumerate(cols):
        n = int(stats[f"n{i}"] or 0)
        q = stats[f"q{i}"] or [None] * len(probs)
        if c in ranges:
            lo, hi = ranges[c]
            width = (hi - lo) / HIST_BINS if hi > lo else 1.0
            edges = tuple(lo + k * width for k in range(HIST_BINS + 1))
            minimum, maximum = float(stats[f"lo{i}"]), float(stats[f"hi{i}"])
            std = stats[f"std{i}"]
            out.append(
                Histogram(
                    stage, c, n, rows - n, minimum, maximum, q[0], q[1], q[2], edges, tuple(bins[c]), c in clipped,
                    mean=float(stats[f"mean{i}"]), std=None if std is None else float(std),
                    quantiles=tuple((float(p), float(x)) for p, x in zip(quantiles, q[5:])),
                )
            )
        else:
            out.append(Histogram(stage, c, 0, rows, None, None, None, None, None))
    return out


@dataclass(frozen=True)
class Thumb:
    """One sampled row: a base64 JPEG (``data:`` URI) when it decodes, else a note."""

    sample_id: str
    label: str
    image_uri: str | None = None
    caption: str = ""
    note: str = ""


@dataclass(frozen=True)
class ThumbGroup:
    """Sampled rows sharing a verdict: ``kept`` or the first filter reason that rejected them."""

    label: str
    kept: bool
    total: int
    thumbs: tuple[Thumb, ...]


@dataclass(frozen=True)
class DupMember:
    sample_id: str
    keep: bool | None
    reason: str
    thumb: Thumb


@dataclass(frozen=True)
class DupCluster:
    cluster_id: str
    size: int
    members: tuple[DupMember, ...]


@dataclass(frozen=True)
class TextSample:
    label: str
    sample_id: str
    snippet: str


@dataclass(frozen=True)
class RunMetrics:
    """Everything the report shows and MLflow logs about one run."""

    run_id: str
    job: str
    namespace: str
    catalog: str
    recipe_sha256: str
    recipe_text: str  # the text recipe_sha256 is over (the overridden mapping's dump when overridden)
    code_version: str
    generated_at: str
    stages: tuple[StageMetrics, ...]
    operators: tuple[OperatorMetrics, ...]
    errors: tuple[ErrorSummary, ...]
    histograms: tuple[Histogram, ...]
    funnel_rows: int = 0
    kept_rows: int = 0
    filtered_rows: int | None = None  # rows passing every filter, before the dedup steps (None: no dedup step)
    thumb_groups: tuple[ThumbGroup, ...] = ()
    dup_clusters: tuple[DupCluster, ...] = ()
    has_dedup: bool = False
    text_samples: tuple[TextSample, ...] = ()
    skipped_models: tuple[tuple[str, tuple[str, ...]], ...] = ()
    skipped_details: tuple[tuple[str, str, str], ...] = ()  # (stage, op id, why: where looked, how to provide)
    notes: tuple[str, ...] = field(default_factory=tuple)
    recipe_path: str | None = None  # the recipe file, when the run's recipe came from one
    recipe_source: str | None = None  # that file's text verbatim (comments included)
    recipe_overrides: tuple[str, ...] = ()  # ``key=value`` applied on top of it, in order
    video: VideoMetrics | None = None  # the video section (spark_mm/report/video.py); None: no video tables

    def snapshot_ids(self) -> dict[str, int]:
        """Stage name → the snapshot it committed (stages without a commit are left out)."""
        return {s.stage: s.snapshot_id for s in self.stages if s.snapshot_id is not None}


@dataclass(frozen=True)
class _Step:
    """A funnel step: a filter's ``ok``/``reason`` columns (or dedup's keep flag) in one stage."""

    stage: str
    name: str
    ok_col: str
    reason_col: str
    dedup: bool = False  # a dedup step's keep flag (its own row in the operator table)


@dataclass(frozen=True)
class _OpInfo:
    stage: str
    name: str
    op_id: str
    is_filter: bool
    columns: tuple[str, ...]


def _recipe_ops(loaded: LoadedRecipe) -> list[_OpInfo]:
    from spark_mm.ops import registry

    out = []
    for stage in loaded.recipe.stages:
        for params in stage.ops:
            op = registry.build(params)
            out.append(_OpInfo(stage.name, op.name, op.id, isinstance(op, Filter), tuple(op.output_schema.names)))
    return out


def thumbnail(data: bytes | None, px: int = THUMB_PX) -> tuple[str | None, str]:
    """Downscale an encoded image to at most ``px`` on its longer side as a base64 JPEG data URI.

    Returns ``(uri, "")``, or ``(None, why)`` when the payload is missing, too large or does not
    decode. Never raises for a bad payload.

    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (400, 200), "red").save(buf, "PNG")
    >>> uri, note = thumbnail(buf.getvalue())
    >>> uri.startswith("data:image/jpeg;base64,"), note
    (True, '')
    >>> thumbnail(b"not an image")[0] is None
    True
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        return None, "no payload"
    if len(data) > MAX_THUMB_SOURCE_BYTES:
        return None, f"payload of {len(data)} bytes not thumbnailed"
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_THUMB_SOURCE_PIXELS:
                return None, f"{im.width}x{im.height} px not thumbnailed"
            im.draft("RGB", (px * 2, px * 2))  # JPEG: decode at a reduced scale
            uri = jpeg_uri(im, px)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as err:
        return None, f"does not decode: {type(err).__name__}"
    return uri, ""


def jpeg_uri(im: Any, px: int = THUMB_PX, quality: int = 70) -> str:
    """A PIL image downscaled to at most ``px`` on its longer side, as a base64 JPEG ``data:`` URI."""
    im = im.convert("RGB")
    im.thumbnail((px, px))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


class MetricsCollector:
    """Reads one run's tables and builds its :class:`RunMetrics`.

    Args:
        spark: a session whose default catalog holds the run's tables.
        result: what the runner returned.
        loaded: the recipe the run executed (operator order, filters, recipe text and digest).
    """

    def __init__(self, spark: SparkSession, result: RunResult, loaded: LoadedRecipe) -> None:
        self.spark = spark
        self.result = result
        self.loaded = loaded
        self.ops = _recipe_ops(loaded)
        self.notes: list[str] = []

    # -- reading -------------------------------------------------------------------------------
    def _table(self, name: str) -> str:
        return f"{self.result.catalog}.{self.result.namespace}.{name}"

    def _exists(self, full: str) -> bool:
        return bool(self.spark.catalog.tableExists(full))

    def scoped(self, table: str, snapshot_id: int | None) -> DataFrame:
        """The rows this run wrote to ``table``, read at ``snapshot_id`` (current when None)."""
        reader = self.spark.read
        if snapshot_id is not None:
            reader = reader.option("versionAsOf", snapshot_id)
        frame = reader.table(table)
        if "run_id" in frame.columns:
            frame = frame.where(F.col("run_id") == self.result.run_id)
        return frame

    def _stage_frames(self) -> list[tuple[StageResult, DataFrame]]:
        out = []
        for s in self.result.stages:
            if s.stage == "ingest" or not self._exists(s.table):
                continue
            out.append((s, self.scoped(s.table, s.snapshot_id)))
        return out

    def _samples(self) -> DataFrame | None:
        ingest = next((s for s in self.result.stages if s.stage == "ingest"), None)
        full = ingest.table if ingest else self._table("samples")
        if not self._exists(full):
            return None
        reader = self.spark.read
        if ingest and ingest.snapshot_id is not None:
            reader = reader.option("versionAsOf", ingest.snapshot_id)
        return reader.table(full)

    # -- the parts -----------------------------------------------------------------------------
    def collect(self) -> RunMetrics:
        """Run every aggregate and sample query; returns the typed result."""
        from spark_mm.lake.lineage import code_version
        from spark_mm.report.video import collect_video

        frames = self._stage_frames()
        stage_metrics = self.stage_metrics()
        error_counts, error_summaries = self.errors(frames)
        funnel, steps = self.funnel_frame(frames)
        operators, funnel_rows, filtered_rows, kept_rows = self.operator_metrics(frames, funnel, steps, error_counts)
        histograms = [h for s, f in frames for h in self.histograms(s.stage, f)]
        samples = self._samples()
        thumbs: list[ThumbGroup] = []
        texts: list[TextSample] = []
        dups: list[DupCluster] = []
        has_dedup = funnel is not None and "dup_cluster_id" in funnel.columns
        if funnel is not None and samples is not None:
            text_col = self._text_source(frames)
            if self._reads_images():
                thumbs = self.thumb_groups(funnel, steps, samples)
            elif text_col is not None:
                texts = self.text_samples(funnel, steps, samples, frames, text_col)
            if has_dedup:
                dups = self.dup_clusters(funnel, samples, frames, text_col)
        video = collect_video(self, frames)
        return RunMetrics(
            run_id=self.result.run_id,
            job=self.result.job,
            namespace=self.result.namespace,
            catalog=self.result.catalog,
            recipe_sha256=self.loaded.sha256,
            recipe_text=self.loaded.text,
            code_version=code_version(),
            generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
            stages=tuple(stage_metrics),
            operators=tuple(operators),
            errors=tuple(error_summaries),
            histograms=tuple(histograms),
            funnel_rows=funnel_rows,
            kept_rows=kept_rows,
            filtered_rows=filtered_rows,
            thumb_groups=tuple(thumbs),
            dup_clusters=tuple(dups),
            has_dedup=has_dedup,
            text_samples=tuple(texts),
            skipped_models=tuple((k, tuple(v)) for k, v in self.result.skipped_models.items()),
            skipped_details=tuple((stage, op, why) for stage, ops in self.result.skipped_details.items() for op, why in ops.items()),
            notes=tuple(self.notes),
            recipe_path=self.loaded.source_path,
            recipe_source=self.loaded.source_text,
            recipe_overrides=tuple(self.loaded.overrides),
            video=video,
        )

    def stage_metrics(self) -> list[StageMetrics]:
        ids = {}
        for op in self.ops:
            ids.setdefault(op.stage, []).append(op.op_id)
        return [
            StageMetrics(
                s.stage, s.table, s.snapshot_id, s.rows_in, s.rows_out, s.rows_with_errors, s.seconds, s.skipped, s.note,
                tuple(ids.get(s.stage, ())), s.recomputed,
            )
            for s in self.result.stages
        ]

    def errors(self, frames: Sequence[tuple[StageResult, DataFrame]]) -> tuple[dict[tuple[str, str], int], list[ErrorSummary]]:
        """Rows per (stage, operator) with an ``errors`` entry, and the most frequent messages.

        Ingest errors (``samples.ingest_error`` of rows this run ingested) count as operator
        ``ingest``.
        """
        counts: dict[tuple[str, str], int] = {}
        top: dict[tuple[str, str], list[ErrorMessage]] = {}
        by_msg = Window.partitionBy("op").orderBy(F.desc("n"), "msg")
        for s, frame in frames:
            if "errors" not in frame.columns:
                continue
            exploded = frame.select(F.explode("errors").alias("op", "message")).select("op", F.substring("message", 1, MESSAGE_CHARS + 1).alias("msg"))
            grouped = exploded.groupBy("op", "msg").agg(F.count(F.lit(1)).alias("n"))
            totals = grouped.groupBy("op").agg(F.sum("n").alias("total"))
            rows = (
                grouped.withColumn("rank", F.row_number().over(by_msg))
                .where(F.col("rank") <= ERROR_MESSAGES)
                .join(totals, "op")
                .orderBy("op", "rank")
                .collect()
            )
            for r in rows:
                counts[(s.stage, r["op"])] = int(r["total"])
                top.setdefault((s.stage, r["op"]), []).append(ErrorMessage(short_message(r["msg"] or ""), int(r["n"])))
        samples = self._samples()
        if samples is not None and "ingest_error" in samples.columns:
            rows = (
                samples.where((F.col("ingest_run_id") == self.result.run_id) & F.col("ingest_error").isNotNull())
                .groupBy(F.substring("ingest_error", 1, MESSAGE_CHARS + 1).alias("msg"))
                .agg(F.count(F.lit(1)).alias("n"))
                .orderBy(F.desc("n"), "msg")
                .collect()
            )
            if rows:
                counts[("ingest", "ingest")] = sum(int(r["n"]) for r in rows)
                top[("ingest", "ingest")] = [ErrorMessage(short_message(r["msg"]), int(r["n"])) for r in rows[:ERROR_MESSAGES]]
        summaries = [ErrorSummary(stage, op, n, tuple(top.get((stage, op), ()))) for (stage, op), n in counts.items()]
        return counts, summaries

    def funnel_frame(self, frames: Sequence[tuple[StageResult, DataFrame]]) -> tuple[DataFrame | None, list[_Step]]:
        """One row per sample of the run with every filter's ok/reason and dedup's columns, if any.

        Stages are joined on ``sample_id`` (the tables share their bucket partitioning); only the
        decision columns travel, never payloads.
        """
        if not frames:
            return None, []
        steps: list[_Step] = []
        base: DataFrame | None = None
        filters = [op for op in self.ops if op.is_filter]
        dedups: list[tuple[str, DataFrame]] = []  # (step name, sample_id + dup columns), recipe order
        for s, frame in frames:
            if "clip_id" in frame.columns:  # a clip-keyed table (clip dedup): many rows per sample, not a sample funnel step
                continue
            cols = [f"{op.name}_{suffix}" for op in filters if op.stage == s.stage for suffix in ("ok", "reason")]
            cols = [c for c in cols if c in frame.columns]
            dup = [c for c in DUP_COLUMNS if c in frame.columns]
            if dup:  # a dedup step's table (dedup_<name>), or dup columns inside a stage's table
                dedups.append((s.stage if s.stage.startswith("dedup_") else DEDUP, frame.select("sample_id", *dup)))
            for op in filters:
                if op.stage == s.stage and f"{op.name}_ok" in frame.columns:
                    steps.append(_Step(s.stage, op.name, f"{op.name}_ok", f"{op.name}_reason"))
            part = frame.select("sample_id", *cols)
            base = part if base is None else base.join(part, "sample_id", "left") if cols else base
        if not dedups:
            legacy = self._dedup_table()
            if legacy is not None:
                dedups.append((DEDUP, legacy.select("sample_id", *[c for c in DUP_COLUMNS if c in legacy.columns])))
        if base is None:
            return base, steps
        for i, (name, source) in enumerate(dedups):
            dup = [c for c in DUP_COLUMNS if c in source.columns]
            if i == 0:  # the cluster view shows the first step's clusters under the plain names
                base = base.join(source, "sample_id", "left")
            if "dup_keep" in dup:
                # Every step is its own funnel step (RefinedWeb has three): kept = kept by all.
                keep, reason = f"{name}__dup_keep", f"{name}__dup_reason"
                why = F.col("dup_reason") if "dup_reason" in dup else F.lit(None).cast("string")
                base = base.join(source.select("sample_id", F.col("dup_keep").alias(keep), why.alias(reason)), "sample_id", "left")
                steps.append(_Step(name, name, keep, reason, dedup=True))
        return base, steps

    def _dedup_table(self) -> DataFrame | None:
        full = self._table("dedup")
        if not self._exists(full):
            return None
        frame = self.scoped(full, None)
        if "sample_id" not in frame.columns or not any(c in frame.columns for c in DUP_COLUMNS):
            return None
        self.notes.append(f"dedup columns read from {full} (current snapshot)")
        return frame

    def operator_metrics(
        self,
        frames: Sequence[tuple[StageResult, DataFrame]],
        funnel: DataFrame | None,
        steps: Sequence[_Step],
        error_counts: dict[tuple[str, str], int],
    ) -> tuple[list[OperatorMetrics], int, int | None, int]:
        """Per operator counts, filter pass/reason counts and the cumulative funnel (one aggregate).

        Returns:
            (operators, rows of the run, rows passing every filter before the dedup steps or None
            when the funnel has no dedup step, rows kept at the end).
        """
        stage_rows = {s.stage: s.rows_out for s, _ in frames}
        op_seconds = {s.stage: dict(getattr(s, "op_seconds", None) or {}) for s, _ in frames}
        step_stats: dict[str, tuple[int, int, int, int, int]] = {}  # name -> passed, rejected, undecided, in, out
        reasons: dict[str, list[ReasonCount]] = {}
        total = kept = 0
        if funnel is not None:
            aggs: list[Column] = [F.count(F.lit(1)).alias("total")]
            kept_expr: Column = F.lit(True)
            for i, st in enumerate(steps):
                ok = F.col(st.ok_col)
                aggs += [
                    F.sum(F.when(ok, 1).otherwise(0)).alias(f"p{i}"),
                    F.sum(F.when(ok, 0).otherwise(1)).alias(f"r{i}"),  # false or null: not kept
                    F.sum(F.when(ok.isNull(), 1).otherwise(0)).alias(f"u{i}"),
                    F.sum(F.when(kept_expr, 1).otherwise(0)).alias(f"in{i}"),
                ]
                kept_expr = kept_expr & F.coalesce(ok, F.lit(False))
                aggs.append(F.sum(F.when(kept_expr, 1).otherwise(0)).alias(f"out{i}"))
            aggs.append(F.sum(F.when(kept_expr, 1).otherwise(0)).alias("kept"))
            row = funnel.agg(*aggs).first()
            total, kept = int(row["total"] or 0), int(row["kept"] or 0)
            for i, st in enumerate(steps):
                step_stats[st.name] = tuple(int(row[k] or 0) for k in (f"p{i}", f"r{i}", f"u{i}", f"in{i}", f"out{i}"))  # type: ignore[assignment]
            if steps:
                pairs = F.array(*[F.struct(F.lit(st.name).alias("f"), F.col(st.reason_col).alias("reason"), F.col(st.ok_col).alias("ok")) for st in steps])
                for r in (
                    funnel.select(F.inline(pairs))
                    .where((F.col("ok") == F.lit(False)))
                    .groupBy("f", F.coalesce("reason", F.lit("(no reason)")).alias("reason"))
                    .agg(F.count(F.lit(1)).alias("n"))
                    .orderBy("f", F.desc("n"), "reason")
                    .collect()
                ):
                    reasons.setdefault(r["f"], []).append(ReasonCount(r["reason"], int(r["n"])))
        out: list[OperatorMetrics] = []
        carried = total
        for op in self.ops:
            rows = stage_rows.get(op.stage, 0)
            secs = op_seconds.get(op.stage, {})
            seconds = secs.get(op.name, secs.get(op.op_id))
            errs = error_counts.get((op.stage, op.name), 0)
            if op.name in step_stats:
                p, r, u, fin, fout = step_stats[op.name]
                carried = fout
                out.append(OperatorMetrics(op.stage, op.name, op.op_id, True, rows, errs, p, r, u, tuple(reasons.get(op.name, ())), fin, fout, seconds))
            else:
                out.append(OperatorMetrics(op.stage, op.name, op.op_id, op.is_filter, rows, errs, funnel_in=carried, funnel_out=carried, seconds=seconds))
        for st in steps:
            if st.dedup:
                p, r, u, fin, fout = step_stats[st.name]
                out.append(OperatorMetrics(st.stage, st.name, st.name, True, p + r, 0, p, r, u, tuple(reasons.get(st.name, ())), fin, fout))
        filtered: int | None = None
        if any(st.dedup for st in steps):  # filter steps come first in ``steps``, dedup steps last
            last = [st for st in steps if not st.dedup][-1:]
            filtered = step_stats[last[0].name][4] if last else total
        return out, total, filtered, kept

    def histograms(self, stage: str, frame: DataFrame) -> list[Histogram]:
        """Equal-width histograms of every numeric signal column of a stage: two aggregate passes."""
        return histograms(frame, stage)

    # -- samples -------------------------------------------------------------------------------
    def _reads_images(self) -> bool:
        from spark_mm.ops import registry

        return any("image" in registry.build(p).reads for s in self.loaded.recipe.stages for p in s.ops)

    def _text_source(self, frames: Sequence[tuple[StageResult, DataFrame]]) -> tuple[str, str] | None:
        """(stage table or ``samples``, column) holding each sample's text, for snippets."""
        for s, frame in frames:
            if "txt_content" in frame.columns:
                return s.table, "txt_content"
        from spark_mm.ops import registry

        samples = self._samples()
        reads = {c for s in self.loaded.recipe.stages for p in s.ops for c in registry.build(p).reads}
        if samples is not None and "text" in reads:
            return "samples", "text"
        return None

    @staticmethod
    def _verdict(steps: Sequence[_Step]) -> tuple[Column, Column]:
        """(kept flag, label): ``kept`` or ``<step>: <reason>`` of the first step that did not pass."""
        kept: Column = F.lit(True)
        label: Column | None = None
        for st in steps:
            ok = F.col(st.ok_col)
            this = F.when(ok.isNull(), F.lit(f"{st.name}: undecided (error)")).when(~ok, F.concat(F.lit(f"{st.name}: "), F.coalesce(F.col(st.reason_col), F.lit("rejected"))))
            label = this if label is None else F.coalesce(label, this)
            kept = kept & F.coalesce(ok, F.lit(False))
        return kept, F.coalesce(label, F.lit("kept")) if label is not None else F.lit("kept")

    def _pick(self, funnel: DataFrame, steps: Sequence[_Step], kept_n: int, other_n: int) -> tuple[dict[str, tuple[bool, int]], list[tuple[str, str]]]:
        """A bounded, deterministic sample of (label, sample_id): ``kept_n`` kept, ``other_n`` per reason."""
        kept, label = self._verdict(steps)
        labelled = funnel.select("sample_id", kept.alias("kept"), label.alias("label"))
        totals = {r["label"]: (bool(r["kept"]), int(r["n"])) for r in labelled.groupBy("label", "kept").agg(F.count(F.lit(1)).alias("n")).collect()}
        chosen = sorted(totals, key=lambda k: (not totals[k][0], -totals[k][1], k))[:MAX_LABELS]
        w = Window.partitionBy("label").orderBy(F.xxhash64("sample_id"), "sample_id")
        picked = (
            labelled.where(F.col("label").isin(chosen))
            .withColumn("rank", F.row_number().over(w))
            .where(F.col("rank") <= F.when(F.col("kept"), F.lit(kept_n)).otherwise(F.lit(other_n)))
            .select("label", "sample_id")
            .collect()
        )
        return {k: totals[k] for k in chosen}, [(r["label"], r["sample_id"]) for r in picked]

    def _payloads(self, samples: DataFrame, ids: Sequence[str]) -> dict[str, tuple[bytes | None, str]]:
        if not ids:
            return {}
        rows = samples.where(F.col("sample_id").isin(list(ids))).select("sample_id", "image", F.substring(F.coalesce("caption", F.lit("")), 1, 160).alias("caption")).collect()
        return {r["sample_id"]: (bytes(r["image"]) if r["image"] is not None else None, r["caption"] or "") for r in rows}

    def _thumb(self, sid: str, label: str, payloads: dict[str, tuple[bytes | None, str]]) -> Thumb:
        data, caption = payloads.get(sid, (None, ""))
        uri, note = thumbnail(data)
        return Thumb(sid, label, uri, caption, note)

    def thumb_groups(self, funnel: DataFrame, steps: Sequence[_Step], samples: DataFrame) -> list[ThumbGroup]:
        """Thumbnails of kept rows and of rejected rows per first failing reason (bounded sample)."""
        totals, picked = self._pick(funnel, steps, KEPT_THUMBS, REASON_THUMBS)
        payloads = self._payloads(samples, [sid for _, sid in picked])
        groups = []
        for label, (is_kept, n) in totals.items():
            thumbs = tuple(self._thumb(sid, label, payloads) for lab, sid in sorted(picked) if lab == label)
            groups.append(ThumbGroup(label, is_kept, n, thumbs))
        return groups

    def text_samples(
        self, funnel: DataFrame, steps: Sequence[_Step], samples: DataFrame, frames: Sequence[tuple[StageResult, DataFrame]], source: tuple[str, str]
    ) -> list[TextSample]:
        """Up to ``TEXT_SAMPLES`` snippets for kept rows and for each first failing reason."""
        _, picked = self._pick(funnel, steps, TEXT_SAMPLES, TEXT_SAMPLES)
        snippets = self._snippets(samples, frames, source, [sid for _, sid in picked])
        return [TextSample(label, sid, snippets.get(sid, "")) for label, sid in sorted(picked, key=lambda p: (p[0] != "kept", p[0], p[1]))]

    def _snippets(self, samples: DataFrame, frames: Sequence[tuple[StageResult, DataFrame]], source: tuple[str, str], ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        table, col = source
        frame = samples if table == "samples" else next(f for s, f in frames if s.table == table)
        rows = frame.where(F.col("sample_id").isin(list(ids))).select("sample_id", F.substring(F.coalesce(col, F.lit("")), 1, SNIPPET_CHARS).alias("t")).collect()
        return {r["sample_id"]: r["t"] for r in rows}

    def dup_clusters(self, funnel: DataFrame, samples: DataFrame, frames: Sequence[tuple[StageResult, DataFrame]], text_source: tuple[str, str] | None) -> list[DupCluster]:
        """The largest near-duplicate clusters (size > 1), members side by side."""
        if "dup_cluster_size" not in funnel.columns:
            return []
        keep = F.col("dup_keep") if "dup_keep" in funnel.columns else F.lit(None).cast("boolean")
        reason = F.col("dup_reason") if "dup_reason" in funnel.columns else F.lit(None).cast("string")
        multi = funnel.where(F.col("dup_cluster_size") > 1).select("sample_id", F.col("dup_cluster_id").cast("string").alias("cid"), F.col("dup_cluster_size").alias("size"), keep.alias("keep"), reason.alias("reason"))
        top = [(r["cid"], int(r["size"])) for r in multi.select("cid", "size").distinct().orderBy(F.desc("size"), "cid").limit(DUP_CLUSTERS).collect()]
        if not top:
            return []
        w = Window.partitionBy("cid").orderBy(F.desc(F.coalesce(F.col("keep").cast("int"), F.lit(0))), "sample_id")
        members = multi.where(F.col("cid").isin([c for c, _ in top])).withColumn("rank", F.row_number().over(w)).where(F.col("rank") <= DUP_MEMBERS).collect()
        ids = [r["sample_id"] for r in members]
        images = self._reads_images()
        payloads = self._payloads(samples, ids) if images else {}
        snippets = self._snippets(samples, frames, text_source, ids) if (not images and text_source) else {}
        out = []
        for cid, size in top:
            rows = sorted((r for r in members if r["cid"] == cid), key=lambda r: r["rank"])
            ms = []
            for r in rows:
                label = "keep" if r["keep"] else (r["reason"] or "drop")
                thumb = self._thumb(r["sample_id"], label, payloads) if images else Thumb(r["sample_id"], label, None, snippets.get(r["sample_id"], "")[:200])
                ms.append(DupMember(r["sample_id"], r["keep"], r["reason"] or "", thumb))
            out.append(DupCluster(cid, size, tuple(ms)))
        return out


def collect_metrics(spark: SparkSession, result: RunResult, loaded: LoadedRecipe) -> RunMetrics:
    """Compute a run's :class:`RunMetrics` from its tables (see :class:`MetricsCollector`)."""
    return MetricsCollector(spark, result, loaded).collect()
