"""Where an operator's signals live, and how it was configured, read from commit lineage alone.

``spark-mm trace`` never asks which stage holds an operator: every stage commit records its
operators (``spark-mm.ops``, ``name@version`` list) and their value-changing params
(``spark-mm.fingerprint-ops``), and every dedup commit its step's columns
(``spark-mm.dedup-reads``). Pure functions over :class:`~spark_mm.lake.inspect.SnapshotInfo`
lists, so they are tested without Spark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError

from spark_mm.errors import ConfigError
from spark_mm.lake.identifiers import check_name
from spark_mm.lake.inspect import SnapshotInfo, open_catalog, table_snapshots
from spark_mm.lake.lease import is_lease_table
from spark_mm.lake.settings import LakeSettings
from spark_mm.ops import registry
from spark_mm.ops.base import Operator

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

DEDUP_PREFIX = "dedup_"
_HEAD = re.compile(r"([a-z][a-z0-9_]*)@([^\s;]+) ")
_WEIGHTS = re.compile(r" weights=[^;\s]*")


@dataclass(frozen=True)
class OpRecord:
    """One operator as a commit recorded it: name, version and value-changing params."""

    name: str
    version: str
    params: dict[str, object]


def parse_fingerprint_ops(text: str) -> list[OpRecord]:
    """The operators of a ``spark-mm.fingerprint-ops`` value (``StageFingerprint.describe``), in order.

    Params are JSON (which may itself hold ``"; "``), so the value is decoded piece by piece,
    not split; ``upstream <table>=<digest>`` parts and model ``weights=`` suffixes are skipped.

    >>> [(r.name, r.version, r.params) for r in parse_fingerprint_ops(
    ...     'txt_extract@2 {"a":"x; y"}; clip@1 {} weights=ab12; upstream signals_cpu=00ff')]
    [('txt_extract', '2', {'a': 'x; y'}), ('clip', '1', {})]
    """
    decoder = json.JSONDecoder()
    out: list[OpRecord] = []
    pos = 0
    while pos < len(text):
        if text.startswith("upstream ", pos):
            end = text.find("; ", pos)
            pos = len(text) if end < 0 else end + 2
            continue
        head = _HEAD.match(text, pos)
        if head is None:
            raise ConfigError(f"spark-mm.fingerprint-ops: cannot read an operator at {text[pos:pos + 40]!r}")
        params, end = decoder.raw_decode(text, head.end())
        weights = _WEIGHTS.match(text, end)
        end = weights.end() if weights else end
        out.append(OpRecord(head.group(1), head.group(2), dict(params)))
        if text.startswith("; ", end):
            pos = end + 2
        elif end == len(text):
            pos = end
        else:
            raise ConfigError(f"spark-mm.fingerprint-ops: unexpected text after {head.group(0).strip()!r}: {text[end:end + 40]!r}")
    return out


def build_operator(record: OpRecord) -> Operator:  # type: ignore[type-arg]
    """The operator a record describes, built with this code's classes (to ask its columns).

    Raises:
        ConfigError: the operator is unknown to this code, or its recorded params no longer validate.
    """
    cls = registry.operators().get(record.name)
    if cls is None:
        raise ConfigError(f"operator {record.name!r} (recorded in lineage) is not registered in this code version")
    try:
        params = cls.Params.model_validate({**record.params, "op": record.name})
    except ValidationError as err:
        raise ConfigError(f"operator {record.name}@{record.version}: its recorded params do not validate with this code: {err}") from None
    return cls(params)


@dataclass(frozen=True)
class OpLocation:
    """The table that holds one operator's (or dedup step's) signals, from its newest commit.

    Attributes:
        table: table name without namespace (``signals_text``, ``dedup_near``).
        stage: the stage (``text``) or dedup step (``dedup_near``).
        op_id: ``name@version`` as last committed (the dedup method's for a dedup step).
        snapshot_id: that newest commit on main.
        inputs: tables (``catalog.ns.table``) and snapshots it read (``spark-mm.input``).
        op: the operator's recorded params (None for a dedup step).
        dedup_reads: the dedup step's columns, key column first (empty for operators, or commits
            made before the property existed).
        run_ids: every run that committed this stage to the table, oldest first.
    """

    table: str
    stage: str
    op_id: str
    snapshot_id: int
    inputs: tuple[tuple[str, int], ...]
    op: OpRecord | None
    dedup_reads: tuple[str, ...]
    run_ids: tuple[str, ...]

    @property
    def is_dedup(self) -> bool:
        return self.op is None


def parse_inputs(value: str) -> tuple[tuple[str, int], ...]:
    """``spark-mm.input`` as (table, snapshot) pairs; entries without a snapshot (source files) are left out.

    >>> parse_inputs("lake.ns.samples@12,lake.ns.signals_cpu@34")
    (('lake.ns.samples', 12), ('lake.ns.signals_cpu', 34))
    >>> parse_inputs("files:sha256=ab")
    ()
    """
    out = []
    for item in value.split(","):
        table, _, snap = item.rpartition("@")
        if table and snap.lstrip("-").isdigit():
            out.append((table, int(snap)))
    return tuple(out)


def _op_names(snap: SnapshotInfo) -> list[str]:
    return [o.split("@")[0] for o in snap.lineage.get("ops", "").split(",") if o]


def _matches(table: str, snap: SnapshotInfo, op: str) -> bool:
    stage = snap.lineage.get("stage", "")
    if op.startswith(DEDUP_PREFIX):
        return table == op and stage == op
    return table == f"signals_{stage}" and op in _op_names(snap)


def locate(snapshots: Mapping[str, Sequence[SnapshotInfo]], op: str) -> list[OpLocation]:
    """Every table whose committed stage ran ``op`` (an operator name, or ``dedup_<step>``).

    Args:
        snapshots: table name (no namespace) → its snapshots, oldest first (``inspect.table_snapshots``).
        op: operator name (``txt_line_corrections``) or dedup table/step (``dedup_near``).

    Raises:
        ConfigError: no commit of the namespace ran ``op``; the message lists what did.
    """
    found = []
    for table in sorted(snapshots):
        hits = [s for s in snapshots[table] if s.status == "main" and _matches(table, s, op)]
        if not hits:
            continue
        last = hits[-1]
        record = None
        if not op.startswith(DEDUP_PREFIX):
            records = [r for r in parse_fingerprint_ops(last.lineage.get("fingerprint-ops", "")) if r.name == op]
            version = next((o.split("@", 1)[1] for o in last.lineage.get("ops", "").split(",") if o.split("@")[0] == op), "")
            record = records[0] if records else OpRecord(op, version, {})
        op_id = f"{record.name}@{record.version}" if record else last.lineage.get("ops", "")
        reads = tuple(c for c in last.lineage.get("dedup-reads", "").split(",") if c)
        runs = tuple(dict.fromkeys(s.run_id for s in hits if s.run_id))
        found.append(OpLocation(table, last.lineage.get("stage", ""), op_id, last.snapshot_id, parse_inputs(last.lineage.get("input", "")), record, reads, runs))
    if not found:
        ops = sorted({n for snaps in snapshots.values() for s in snaps if s.status == "main" and not s.lineage.get("stage", "").startswith(DEDUP_PREFIX) for n in _op_names(s)})
        steps = sorted(t for t in snapshots if t.startswith(DEDUP_PREFIX) and t != "dedup_keys")
        raise ConfigError(f"--op {op}: no commit in this namespace ran it; operators there: {ops}; dedup steps: {steps}")
    return found


def namespace_snapshots(namespace: str, settings: LakeSettings | None = None, catalog: Catalog | None = None) -> dict[str, list[SnapshotInfo]]:
    """Table name (no namespace) → its snapshots, oldest first, for every table of ``namespace`` (pyiceberg, no Spark)."""
    settings = settings or LakeSettings()
    check_name(namespace, "namespace")
    catalog = catalog or open_catalog(settings)
    try:
        identifiers = catalog.list_tables((namespace,))
    except Exception as err:  # pyiceberg raises NoSuchNamespaceError; name it in the message
        raise ConfigError(f"namespace {namespace!r}: {err}") from None
    out = {}
    for ident in sorted(i for i in identifiers if not is_lease_table(i[-1])):
        out[ident[-1]] = table_snapshots(catalog.load_table(ident), ".".join(ident), settings.catalog)
    return out
