"""Inspect runs and lineage straight from the Iceberg metadata with pyiceberg (no Spark start).

    spark-mm runs [--namespace NS] [--format table|json]
    spark-mm lineage NS.TABLE [--format table|json]

Both read snapshot summaries only (metadata JSON files), never data files, so they answer in about
a second. A write-audit-publish commit appears twice in the metadata: the staged snapshot (carrying
``wap.id`` and the lineage) and, when it was not fast-forwarded, the published cherry-pick
(``published-wap-id``); the published one inherits the staged one's lineage here. Staged
snapshots that were never published (a failed audit) are listed with status ``staged``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from spark_mm.errors import ConfigError
from spark_mm.lake.identifiers import check_name
from spark_mm.lake.lease import is_lease_table
from spark_mm.lake.lineage import PREFIX
from spark_mm.lake.settings import LakeSettings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

MAIN = "main"


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot of one table with its lineage (``spark-mm.`` keys, prefix stripped)."""

    table: str
    snapshot_id: int
    parent_id: int | None
    committed_at: str  # ISO 8601, UTC
    operation: str
    status: str  # "main": in the current history of main; "staged": WAP snapshot never published; "other"
    added_records: int | None
    total_records: int | None
    lineage: dict[str, str]
    refs: tuple[str, ...]
    time_travel: str

    @property
    def run_id(self) -> str | None:
        return self.lineage.get("run-id")


@dataclass
class RunInfo:
    """Everything one run id committed across a namespace's tables."""

    run_id: str
    job: str | None = None
    stages: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)
    added_records: int = 0
    first_commit: str = ""
    last_commit: str = ""
    staged_only: list[int] = field(default_factory=list)  # WAP snapshots that never reached main


def open_catalog(settings: LakeSettings | None = None) -> Catalog:
    """The pyiceberg catalog that the Spark catalog ``settings.catalog`` points at."""
    from pyiceberg.catalog import load_catalog

    settings = settings or LakeSettings()
    return load_catalog(settings.catalog, **settings.pyiceberg_properties())


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


def table_snapshots(table: Table, name: str, catalog_name: str = "lake") -> list[SnapshotInfo]:
    """Every snapshot of ``table``, oldest first, with lineage resolved through WAP publishes."""
    from pyiceberg.table.snapshots import ancestors_of

    meta = table.metadata
    on_main = {s.snapshot_id for s in ancestors_of(table.current_snapshot(), meta)} if table.current_snapshot() else set()
    summaries = {s.snapshot_id: dict(s.summary.additional_properties) if s.summary else {} for s in meta.snapshots}
    by_wap = {props["wap.id"]: sid for sid, props in summaries.items() if "wap.id" in props}
    published_waps = {props["published-wap-id"] for props in summaries.values() if "published-wap-id" in props}
    refs: dict[int, list[str]] = {}
    for ref_name, ref in meta.refs.items():
        refs.setdefault(ref.snapshot_id, []).append(ref_name if ref_name == MAIN else f"{ref.snapshot_ref_type.value}:{ref_name}")
    out = []
    for snap in sorted(meta.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number or 0)):
        props = summaries[snap.snapshot_id]
        lineage = {k.removeprefix(PREFIX): v for k, v in props.items() if k.startswith(PREFIX)}
        source = by_wap.get(props.get("published-wap-id", ""))
        if source is not None and source != snap.snapshot_id:
            lineage = {**{k.removeprefix(PREFIX): v for k, v in summaries[source].items() if k.startswith(PREFIX)}, **lineage}
        if snap.snapshot_id in on_main:
            status = "main"
        elif "wap.id" in props and props["wap.id"] not in published_waps:
            status = "staged"
        else:
            status = "other"
        tags = [r.removeprefix("tag:") for r in refs.get(snap.snapshot_id, []) if r.startswith("tag:")]
        hint = f"SELECT * FROM {catalog_name}.{name} VERSION AS OF {snap.snapshot_id}"
        if tags:
            hint += f"  -- or VERSION AS OF '{tags[0]}'"
        out.append(
            SnapshotInfo(
                table=name,
                snapshot_id=snap.snapshot_id,
                parent_id=snap.parent_snapshot_id,
                committed_at=_iso(snap.timestamp_ms),
                operation=snap.summary.operation.value if snap.summary else "",
                status=status,
                added_records=_int(props.get("added-records")),
                total_records=_int(props.get("total-records")),
                lineage=lineage,
                refs=tuple(sorted(refs.get(snap.snapshot_id, []))),
                time_travel=hint,
            )
        )
    return out


def _split(identifier: str, catalog_name: str) -> tuple[str, str]:
    parts = identifier.split(".")
    if len(parts) == 3 and parts[0] == catalog_name:
        parts = parts[1:]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"table {identifier!r}: expected NAMESPACE.TABLE (or {catalog_name}.NAMESPACE.TABLE)")
    return check_name(parts[0], "namespace"), check_name(parts[1], "table")


def lineage(identifier: str, settings: LakeSettings | None = None, catalog: Catalog | None = None) -> list[SnapshotInfo]:
    """Snapshots of one table (``ns.table`` or ``lake.ns.table``), oldest first."""
    from pyiceberg.exceptions import NoSuchTableError

    settings = settings or LakeSettings()
    ns, name = _split(identifier, settings.catalog)  # a bad name is refused before the catalog opens
    catalog = catalog or open_catalog(settings)
    try:
        table = catalog.load_table((ns, name))
    except NoSuchTableError:
        raise ConfigError(f"table {settings.catalog}.{ns}.{name} does not exist") from None
    return table_snapshots(table, f"{ns}.{name}", settings.catalog)


def runs(namespace: str | None = None, settings: LakeSettings | None = None, catalog: Catalog | None = None) -> list[RunInfo]:
    """Runs found in snapshot summaries of every table of ``namespace`` (all namespaces when None), oldest first."""
    settings = settings or LakeSettings()
    if namespace is not None:
        check_name(namespace, "namespace")
    catalog = catalog or open_catalog(settings)
    namespaces = [(namespace,)] if namespace else catalog.list_namespaces()
    found: dict[str, RunInfo] = {}
    stage_first: dict[tuple[str, str], tuple[str, int]] = {}  # (run, stage) -> (first commit time, its sequence number)
    for ns in namespaces:
        try:
            identifiers = catalog.list_tables(ns)
        except Exception as err:  # pyiceberg raises NoSuchNamespaceError; name it in the message
            raise ConfigError(f"namespace {'.'.join(ns)!r}: {err}") from None
        for ident in sorted(i for i in identifiers if not is_lease_table(i[-1])):
            name = ".".join(ident)
            table = catalog.load_table(ident)
            sequence = {s.snapshot_id: s.sequence_number or 0 for s in table.metadata.snapshots}
            for snap in table_snapshots(table, name, settings.catalog):
                if snap.run_id is None or snap.status == "other":
                    continue
                info = found.setdefault(snap.run_id, RunInfo(snap.run_id))
                if snap.status == "staged":
                    info.staged_only.append(snap.snapshot_id)
                    continue
                info.job = info.job or snap.lineage.get("job")
                stage = snap.lineage.get("stage")
                if stage:
                    at = (snap.committed_at, sequence[snap.snapshot_id])
                    stage_first[(snap.run_id, stage)] = min(stage_first.get((snap.run_id, stage), at), at)
                if name not in info.tables:
                    info.tables.append(name)
                info.snapshot_ids.append(snap.snapshot_id)
                info.added_records += snap.added_records or 0
                info.first_commit = min(info.first_commit or snap.committed_at, snap.committed_at)
                info.last_commit = max(info.last_commit, snap.committed_at)
    for (run_id, stage), _ in sorted(stage_first.items(), key=lambda item: item[1]):
        found[run_id].stages.append(stage)  # run order: by each stage's first commit, not by table name
    return sorted(found.values(), key=lambda r: (r.first_commit or "~", r.run_id))


def _table(headers: list[str], rows: Iterable[list[object]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def format_runs(items: list[RunInfo], fmt: str = "table") -> str:
    """Runs as an aligned text table or as JSON (one list)."""
    if fmt == "json":
        return json.dumps([asdict(r) for r in items], indent=2)
    rows = [
        [r.run_id, r.job, ",".join(r.stages), r.added_records, r.first_commit, r.last_commit, ", ".join(r.tables), ",".join(map(str, r.snapshot_ids))]
        + [",".join(map(str, r.staged_only)) or None]
        for r in items
    ]
    return _table(["run_id", "job", "stages", "added_rows", "first_commit", "last_commit", "tables", "snapshot_ids", "staged_unpublished"], rows)


def format_lineage(items: list[SnapshotInfo], fmt: str = "table") -> str:
    """Snapshots as an aligned text table (time-travel queries listed below it) or JSON."""
    if fmt == "json":
        return json.dumps([asdict(s) for s in items], indent=2)
    keys = ("run-id", "job", "stage", "chunk", "input")
    rows = [
        [s.snapshot_id, s.parent_id, s.committed_at, s.operation, s.status, ",".join(s.refs), s.added_records, s.total_records]
        + [s.lineage.get(k) for k in keys]
        for s in items
    ]
    text = _table(["snapshot_id", "parent_id", "committed_at", "op", "status", "refs", "added", "total", *keys], rows)
    extra = [f"{s.snapshot_id}: {s.time_travel}" for s in items]
    details = [
        f"{s.snapshot_id}: " + ", ".join(f"{k}={v}" for k, v in sorted(s.lineage.items()) if k not in keys)
        for s in items
        if any(k not in keys for k in s.lineage)
    ]
    return text + "\n\ntime travel:\n  " + "\n  ".join(extra) + ("\n\nlineage:\n  " + "\n  ".join(details) if details else "")
