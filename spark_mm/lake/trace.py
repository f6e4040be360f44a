"""Trace one operator (Data-Juicer's tracer): the samples it dropped, changed or grouped as duplicates.

    spark-mm trace NS --op OPNAME [--run-id R] [--limit N] [--max-chars C] [--format text|json]

The stage table that holds the operator comes from lineage (``trace_lineage.locate``), never from
the user. Three views, each shown when the operator has it:

- **dropped**: rows of ``signals_<stage>`` with ``<op>_ok = false``, counted by ``<op>_reason``,
  the first ``limit`` (by ``sample_id``) with their reason, the operator's ``errors`` entry, its
  scalar signals and the sample's URL;
- **changed**: for operators that rewrite a text (``Operator.rewrites``: ``txt_extract``,
  ``txt_line_corrections``, ``txt_pii`` with ``redact``), rows whose output differs from the
  input column the operator read, joined by ``sample_id`` from ``samples`` or the upstream signals
  table at the snapshot the stage read; each with the removed lines and a unified line diff;
- **duplicates**: for ``dedup_<step>``, near-duplicate groups (``dup_cluster_size > 1``,
  largest first) with every member's keep flag, reason, URL and the text the step's key was
  computed from (image steps: URL and caption), plus counts of samples not kept by reason.

Only counts and ``limit`` rows per view reach the driver.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Union

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.errors import ConfigError
from spark_mm.lake.identifiers import check_name, check_run_id
from spark_mm.lake.inspect import SnapshotInfo
from spark_mm.lake.settings import LakeSettings
from spark_mm.lake.trace_lineage import OpLocation, build_operator, locate, namespace_snapshots, parse_fingerprint_ops, parse_inputs
from spark_mm.ops.base import Operator

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

Scalar = Union[str, int, float, bool, None]
SAMPLES = "samples"
MAX_DIFF_LINES = 200


@dataclass(frozen=True)
class DroppedRow:
    sample_id: str
    reason: str | None
    error: str | None
    url: str | None
    signals: dict[str, Scalar]


@dataclass(frozen=True)
class Drops:
    """``<op>_ok = false`` rows: how many of ``rows`` (the traced rows), by reason, and the first few."""

    ok_column: str
    rows: int
    dropped: int
    by_reason: dict[str, int]
    shown: list[DroppedRow]


@dataclass(frozen=True)
class ChangedRow:
    sample_id: str
    url: str | None
    source: str  # the input column the "before" text came from
    before: str  # clipped to max_chars
    after: str  # clipped to max_chars
    removed_lines: list[str]
    diff: list[str]  # unified diff of lines, at most MAX_DIFF_LINES


@dataclass(frozen=True)
class Changes:
    """Rows the operator rewrote (``output`` set) and those whose text differs from its input."""

    output: str
    sources: tuple[str, ...]
    rewritten: int
    changed: int
    shown: list[ChangedRow]


@dataclass(frozen=True)
class DupMember:
    sample_id: str
    keep: bool | None
    reason: str | None
    url: str | None
    text: str | None  # clipped to max_chars


@dataclass(frozen=True)
class DupGroup:
    run_id: str | None
    cluster_id: str
    size: int
    members: list[DupMember]


@dataclass(frozen=True)
class Dups:
    """A dedup step's groups: ``text_column`` is where member texts came from (``table.column``)."""

    text_column: str
    rows: int
    groups: int
    not_kept: dict[str, int]
    shown: list[DupGroup]


@dataclass(frozen=True)
class Trace:
    """What one operator did in one table."""

    namespace: str
    table: str
    stage: str
    op: str
    snapshot_id: int
    run_ids: tuple[str, ...]
    run_filter: str | None
    drops: Drops | None = None
    changes: Changes | None = None
    dups: Dups | None = None
    notes: list[str] = field(default_factory=list)


def clip(text: str | None, max_chars: int) -> str | None:
    """``text`` cut to ``max_chars`` characters, marked when cut.

    >>> clip("abcdef", 3), clip("abc", 3), clip(None, 3)
    ('abc…[+3 chars]', 'abc', None)
    """
    if text is None or len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}…[+{len(text) - max_chars} chars]"


def removed_lines(before: str, after: str) -> list[str]:
    """Lines of ``before`` that ``after`` no longer has (in order; a line rewritten counts as removed).

    >>> removed_lines("keep\\nSIGN IN\\nalso keep\\n3 likes", "keep\\nalso keep")
    ['SIGN IN', '3 likes']
    """
    a, b = before.splitlines(), after.splitlines()
    out: list[str] = []
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("delete", "replace"):
            out.extend(a[i1:i2])
    return out


def line_diff(before: str, after: str, max_lines: int = MAX_DIFF_LINES) -> list[str]:
    """Unified diff of the lines (one line of context), at most ``max_lines`` lines.

    >>> line_diff("a\\nb\\nc", "a\\nc")
    ['--- before', '+++ after', '@@ -1,3 +1,2 @@', ' a', '-b', ' c']
    """
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after", n=1, lineterm=""))
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"… {len(lines) - max_lines} more diff lines"]
    return lines


def as_text(value: object) -> str | None:
    """A source value as text: strings as they are, bytes decoded as UTF-8 with replacement."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _scalar_signals(op: Operator, skip: set[str]) -> list[str]:  # type: ignore[type-arg]
    t = pa.types
    return [
        f.name for f in op.output_schema
        if f.name not in skip and (t.is_integer(f.type) or t.is_floating(f.type) or t.is_boolean(f.type) or t.is_string(f.type))
    ]


class _Tables:
    """The namespace's tables as Spark frames, by short name or full identifier, optionally pinned."""

    def __init__(self, spark: SparkSession, catalog: str, namespace: str) -> None:
        self.spark, self.catalog, self.namespace = spark, catalog, namespace

    def full(self, table: str) -> str:
        return table if "." in table else f"{self.catalog}.{self.namespace}.{table}"

    def frame(self, table: str, snapshot: int | None = None) -> DataFrame:
        reader = self.spark.read if snapshot is None else self.spark.read.option("versionAsOf", snapshot)
        return reader.table(self.full(table))

    def types(self, table: str, snapshot: int | None = None) -> dict[str, T.DataType]:
        return {f.name: f.dataType for f in self.frame(table, snapshot).schema.fields}

    def urls(self) -> DataFrame:
        return self.frame(SAMPLES).select("sample_id", "url")

    def holder(self, column: str, candidates: Sequence[tuple[str, int]]) -> tuple[str, int, T.DataType] | None:
        """The first (table, snapshot) of ``candidates`` that has ``column``, with its type."""
        for table, snap in candidates:
            types = self.types(table, snap)
            if column in types:
                return table, snap, types[column]
        return None


def trace(
    spark: SparkSession,
    settings: LakeSettings,
    namespace: str,
    op: str,
    run_id: str | None = None,
    limit: int = 10,
    max_chars: int = 2000,
    catalog: Catalog | None = None,
) -> list[Trace]:
    """Trace ``op`` (operator name or ``dedup_<step>``) in every table of ``namespace`` that holds it.

    Args:
        run_id: only rows this run wrote (default: every row of the current tables).
        limit: rows (groups, for dedup) shown per view.
        max_chars: texts longer than this are clipped in the output (diffs use the whole text).

    Raises:
        ConfigError: no commit of the namespace ran ``op`` (the message lists the operators that ran).
    """
    check_name(namespace, "namespace")
    if run_id is not None:
        check_run_id(run_id)
    if limit < 0 or max_chars < 1:
        raise ConfigError(f"trace: --limit must be >= 0 and --max-chars >= 1 (got {limit}, {max_chars})")
    snapshots = namespace_snapshots(namespace, settings, catalog)
    tables = _Tables(spark, settings.catalog, namespace)
    out = []
    for loc in locate(snapshots, op):
        t = Trace(namespace, loc.table, loc.stage, loc.op_id, loc.snapshot_id, loc.run_ids, run_id)
        frame = tables.frame(loc.table)
        if run_id is not None:
            frame = frame.where(F.col("run_id") == F.lit(run_id))
        if loc.is_dedup:
            out.append(_with(t, dups=_dups(tables, snapshots, loc, frame, limit, max_chars)))
        else:
            out.append(_trace_op(tables, loc, frame, t, limit, max_chars))
    return out


def _with(t: Trace, **changes: object) -> Trace:
    return Trace(**{**{f: getattr(t, f) for f in t.__dataclass_fields__}, **changes})  # type: ignore[arg-type]


def _trace_op(tables: _Tables, loc: OpLocation, frame: DataFrame, t: Trace, limit: int, max_chars: int) -> Trace:
    assert loc.op is not None
    name = loc.op.name
    notes = list(t.notes)
    op: Operator | None = None  # type: ignore[type-arg]
    try:
        op = build_operator(loc.op)
    except ConfigError as err:
        notes.append(f"{err}: signals and before/after are not shown")
    rewrite = op.rewrites() if op is not None else None
    drops = changes = None
    if f"{name}_ok" in frame.columns:
        skip = {f"{name}_ok", f"{name}_reason"} | ({rewrite.output} if rewrite else set())
        drops = _drops(tables, frame, name, _scalar_signals(op, skip) if op is not None else [], limit)
    if rewrite is not None and rewrite.output in frame.columns:
        changes = _changes(tables, loc, frame, rewrite.output, rewrite.sources, limit, max_chars)
    if drops is None and changes is None:
        notes.append(f"{name} neither filters (no {name}_ok column) nor rewrites a text: nothing dropped or changed to show")
    return _with(t, drops=drops, changes=changes, notes=notes)


def _drops(tables: _Tables, frame: DataFrame, name: str, signals: list[str], limit: int) -> Drops:
    ok, reason = f"{name}_ok", f"{name}_reason"
    bad = frame.where(F.col(ok) == F.lit(False))
    total = frame.count()
    by_reason = {(r[0] if r[0] is not None else "(none)"): int(r[1]) for r in bad.groupBy(reason).count().collect()}
    picked = (
        bad.select("sample_id", F.col(reason).alias("_reason"), F.col("errors")[name].alias("_error"), *signals)
        .join(tables.urls(), "sample_id", "left")
        .orderBy("sample_id")
        .limit(limit)
        .collect()
    )
    shown = [DroppedRow(r["sample_id"], r["_reason"], r["_error"], r["url"], {c: r[c] for c in signals}) for r in picked]
    return Drops(ok, total, sum(by_reason.values()), dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))), shown)


def _changes(
    tables: _Tables, loc: OpLocation, frame: DataFrame, output: str, sources: tuple[str, ...], limit: int, max_chars: int
) -> Changes:
    """Join the operator's output with the input column(s) it read and keep the rows that differ."""
    joined = frame.select("sample_id", F.col(output).alias("_after"))
    own = set(frame.columns)
    found: list[tuple[str, T.DataType]] = []  # per source: alias and type
    for i, src in enumerate(sources):
        alias = f"_src{i}"
        if src in own:  # written by an earlier operator of the same stage
            joined = joined.join(frame.select("sample_id", F.col(src).alias(alias)), "sample_id", "left")
            found.append((src, frame.schema[src].dataType))
            continue
        held = tables.holder(src, loc.inputs)
        if held is None:
            raise ConfigError(f"trace {loc.op_id}: its input column {src!r} is in none of the tables the stage read ({[t for t, _ in loc.inputs]})")
        table, snap, dtype = held
        joined = joined.join(tables.frame(table, snap).select("sample_id", F.col(src).alias(alias)), "sample_id", "left")
        found.append((src, dtype))
    differs: Column = F.lit(False)
    for i in reversed(range(len(found))):
        col = F.col(f"_src{i}")
        # a text source is compared; a binary one (an HTTP body) always differs from its extracted text
        cmp = (col != F.col("_after")) if isinstance(found[i][1], T.StringType) else F.lit(True)
        differs = F.when(col.isNotNull(), cmp).otherwise(differs)
    rewritten = joined.where(F.col("_after").isNotNull())
    changed = rewritten.where(differs)
    counts = rewritten.agg(F.count(F.lit(1)), F.sum(differs.cast("long"))).first()
    picked = changed.join(tables.urls(), "sample_id", "left").orderBy("sample_id").limit(limit).collect()
    shown = []
    for r in picked:
        i = next(k for k in range(len(found)) if r[f"_src{k}"] is not None)
        before, after = as_text(r[f"_src{i}"]) or "", r["_after"]
        shown.append(ChangedRow(r["sample_id"], r["url"], found[i][0], clip(before, max_chars) or "", clip(after, max_chars) or "", removed_lines(before, after), line_diff(before, after)))
    return Changes(output, sources, int(counts[0]), int(counts[1] or 0), shown)


def dedup_text_source(tables: _Tables, snapshots: dict[str, list[SnapshotInfo]], loc: OpLocation) -> tuple[str, int, str] | None:
    """(table, snapshot, column) of the text a dedup step's key was computed from, or None (image keys, old commits).

    The step's key column (``spark-mm.dedup-reads``) is in one of the tables it read; the operator
    that wrote it there (from that table's ``spark-mm.fingerprint-ops``) names what it read.
    """
    if not loc.dedup_reads:
        return None
    held = tables.holder(loc.dedup_reads[0], loc.inputs)
    if held is None:
        return None
    table, snap, _ = held
    infos = snapshots.get(table.split(".")[-1], [])
    info = next((s for s in infos if s.snapshot_id == snap), None) or next((s for s in reversed(infos) if "fingerprint-ops" in s.lineage), None)
    if info is None:
        return None
    for record in parse_fingerprint_ops(info.lineage.get("fingerprint-ops", "")):
        try:
            op = build_operator(record)
        except ConfigError:
            continue
        if loc.dedup_reads[0] not in op.output_schema.names:
            continue
        for col in op.reads:
            text = tables.holder(col, [(table, snap), *_inputs(info)])
            if text is not None and isinstance(text[2], T.StringType):
                return text[0], text[1], col
    return None


def _inputs(info: SnapshotInfo) -> list[tuple[str, int]]:
    return list(parse_inputs(info.lineage.get("input", "")))


def _dups(tables: _Tables, snapshots: dict[str, list[SnapshotInfo]], loc: OpLocation, frame: DataFrame, limit: int, max_chars: int) -> Dups:
    total = frame.count()
    not_kept = {(r[0] if r[0] is not None else "(none)"): int(r[1]) for r in frame.where(~F.col("dup_keep")).groupBy("dup_reason").count().collect()}
    clusters = frame.where(F.col("dup_cluster_size") > 1).select("run_id", "dup_cluster_id", "dup_cluster_size").distinct()
    picked = clusters.orderBy(F.desc("dup_cluster_size"), "dup_cluster_id", "run_id").limit(limit)
    members = frame.join(picked.select("run_id", "dup_cluster_id"), ["run_id", "dup_cluster_id"], "left_semi")
    source = dedup_text_source(tables, snapshots, loc)
    samples = tables.frame(SAMPLES)
    if source is not None:
        table, snap, col = source
        texts = tables.frame(table, snap).select("sample_id", F.col(col).alias("_text"))
        shown_col = f"{table.split('.')[-1]}.{col}"
    else:  # image keys (or a commit without dedup-reads): the sample's own text, else its caption
        texts = samples.select("sample_id", F.coalesce("text", "caption").alias("_text"))
        shown_col = "samples.text|caption"
    rows = (
        members.select("run_id", "dup_cluster_id", "dup_cluster_size", "sample_id", "dup_keep", "dup_reason")
        .join(samples.select("sample_id", "url"), "sample_id", "left")
        .join(texts, "sample_id", "left")
        .orderBy(F.desc("dup_cluster_size"), "dup_cluster_id", "run_id", F.desc("dup_keep"), "sample_id")
        .collect()
    )
    groups: dict[tuple[str | None, str], DupGroup] = {}
    for r in rows:
        g = groups.setdefault((r["run_id"], r["dup_cluster_id"]), DupGroup(r["run_id"], r["dup_cluster_id"], int(r["dup_cluster_size"]), []))
        g.members.append(DupMember(r["sample_id"], r["dup_keep"], r["dup_reason"], r["url"], clip(r["_text"], max_chars)))
    return Dups(shown_col, total, clusters.count(), dict(sorted(not_kept.items())), list(groups.values()))


def format_traces(traces: Sequence[Trace], fmt: str = "text") -> str:
    """Traces as JSON (one list) or as readable text."""
    if fmt == "json":
        return json.dumps([asdict(t) for t in traces], indent=2, ensure_ascii=False)
    return "\n\n".join(_format_one(t) for t in traces)


def _indent(text: str | None, by: str = "      ") -> str:
    return "\n".join(by + line for line in (text or "").splitlines()) or by + "(empty)"


def _format_one(t: Trace) -> str:
    scope = f"run {t.run_filter}" if t.run_filter else f"runs {', '.join(t.run_ids)}"
    lines = [f"{t.op} in {t.namespace}.{t.table} (stage {t.stage}; last commit {t.snapshot_id}; {scope})"]
    lines += [f"note: {n}" for n in t.notes]
    if t.drops is not None:
        d = t.drops
        lines.append(f"dropped: {d.dropped} of {d.rows} rows ({d.ok_column} = false)")
        lines += [f"  {reason}: {n}" for reason, n in d.by_reason.items()]
        for r in d.shown:
            extra = ", ".join(f"{k}={v}" for k, v in r.signals.items())
            lines.append(f"  - {r.sample_id} [{r.reason}] {r.url or ''}".rstrip() + (f"  {extra}" if extra else "") + (f"  error: {r.error}" if r.error else ""))
    if t.changes is not None:
        c = t.changes
        lines.append(f"changed: {c.changed} of {c.rewritten} rows with {c.output} differ from {' / '.join(c.sources)}")
        for r in c.shown:
            lines.append(f"  - {r.sample_id} {r.url or ''} (before: {r.source}; {len(r.removed_lines)} lines removed)".replace("  (", " ("))
            lines.append(_indent("\n".join(r.diff)))
    if t.dups is not None:
        g = t.dups
        kept = ", ".join(f"{k}: {n}" for k, n in g.not_kept.items()) or "none"
        lines.append(f"duplicates: {g.groups} groups of 2+ among {g.rows} rows; not kept by reason: {kept}; texts from {g.text_column}")
        for grp in g.shown:
            lines.append(f"  group {grp.cluster_id} ({grp.size} samples, run {grp.run_id})")
            for m in grp.members:
                lines.append(f"    {'keep' if m.keep else 'drop'} {m.sample_id} [{m.reason or '-'}] {m.url or ''}".rstrip())
                lines.append(_indent(m.text))
    return "\n".join(lines)
