"""Pin the Iceberg tables an arbitrary SQL query reads to their current snapshots.

A model trained from a query (``spark-mm train-fasttext``) must say exactly which data it saw.
:func:`pin_query` finds every Iceberg table in the query's analysed plan (so joins, unions,
subqueries and views are all seen), rewrites each reference ``catalog.ns.table`` or ``ns.table``
(the latter when the table is in the session's current catalog) to ``... VERSION AS OF <id>``,
and re-analyses the rewritten query to check that every Iceberg relation in it is now pinned to
the recorded snapshot. A reference the rewrite cannot reach (an unqualified ``table`` name, a view
defined elsewhere) fails loudly rather than being recorded at a snapshot it may not read.

References the query already pins (``VERSION AS OF``, ``TIMESTAMP AS OF``) are kept as written and
recorded at the snapshot they pin. Non-Iceberg sources are not versioned and are not listed.
The rewrite is textual: a string literal that spells a table name exactly would be rewritten too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyspark.sql import SparkSession

from spark_mm.errors import ConfigError

_ICEBERG_TABLE = "org.apache.iceberg.spark.source.SparkTable"
_V2_RELATION = "org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation"


@dataclass(frozen=True)
class TableAt:
    """One Iceberg table a query reads, at the snapshot it reads.

    Attributes:
        table: ``catalog.namespace.table``.
        snapshot_id: the snapshot read (None for a table without snapshots).
        pinned_by_query: the query itself pinned it (time travel written by the user).
    """

    table: str
    snapshot_id: int | None
    pinned_by_query: bool = False


@dataclass(frozen=True)
class PinnedQuery:
    """A query rewritten to read fixed snapshots, and the tables it reads."""

    query: str
    pinned: str
    tables: tuple[TableAt, ...]


@dataclass(frozen=True)
class _Relation:
    catalog: str
    namespace: tuple[str, ...]
    name: str
    snapshot_id: int | None
    time_travel: bool

    @property
    def table(self) -> str:
        return ".".join((self.catalog, *self.namespace, self.name))


def _relations(spark: SparkSession, query: str) -> list[_Relation]:
    """Iceberg relations of the query's analysed plan (py4j; the plan is not executed)."""
    plan = spark.sql(query)._jdf.queryExecution().analyzed()
    out: list[_Relation] = []
    leaves = plan.collectLeaves().iterator()
    while leaves.hasNext():
        leaf = leaves.next()
        if leaf.getClass().getName() != _V2_RELATION or leaf.table().getClass().getName() != _ICEBERG_TABLE:
            continue
        if leaf.catalog().isEmpty() or leaf.identifier().isEmpty():
            continue
        ident = leaf.identifier().get()
        snap = leaf.table().snapshotId()
        out.append(
            _Relation(
                catalog=str(leaf.catalog().get().name()),
                namespace=tuple(str(p) for p in ident.namespace()),
                name=str(ident.name()),
                snapshot_id=int(snap) if snap is not None else None,
                time_travel=bool(leaf.timeTravelSpec().isDefined()),
            )
        )
    return out


def _part(name: str) -> str:
    return rf"(?:`{re.escape(name)}`|{re.escape(name)})"


def reference_pattern(catalog: str, namespace: tuple[str, ...], name: str, catalog_optional: bool) -> re.Pattern[str]:
    """A reference to one table not already followed by time travel, nor part of a longer name.

    >>> p = reference_pattern("lake", ("ns",), "t", True)
    >>> bool(p.search("FROM ns.t")), bool(p.search("FROM lake.`ns`.t x")), bool(p.search("FROM ns.t2")), bool(p.search("FROM ns.t VERSION AS OF 1"))
    (True, True, False, False)
    """
    head = _part(catalog) + r"\."
    body = r"\.".join(_part(p) for p in (*namespace, name))
    qualified = rf"(?:{head})?{body}" if catalog_optional else head + body
    return re.compile(
        rf"(?<![\w.`'\"]){qualified}(?![\w.`'\"])(?!\s+(?:VERSION|TIMESTAMP|FOR\s+(?:SYSTEM_)?(?:VERSION|TIME))\b)", re.IGNORECASE
    )


def pin_query(spark: SparkSession, query: str) -> PinnedQuery:
    """Rewrite ``query`` to read every Iceberg table at its current snapshot, checked by re-analysis.

    Raises:
        ConfigError: the query reads no Iceberg table, or a reference could not be pinned.
    """
    found = _relations(spark, query)
    if not found:
        raise ConfigError(f"the query reads no Iceberg table, so its input cannot be pinned to a snapshot: {query!r}")
    current_catalog = spark.catalog.currentCatalog()
    pinned = query
    want: dict[str, int | None] = {}
    for rel in sorted({r for r in found if not r.time_travel}, key=lambda r: -len(r.table)):
        want[rel.table] = rel.snapshot_id
        if rel.snapshot_id is None:
            continue  # an empty table: nothing to pin, and VERSION AS OF would not resolve
        pattern = reference_pattern(rel.catalog, rel.namespace, rel.name, rel.catalog == current_catalog)
        pinned = pattern.sub(lambda m: f"{m.group(0)} VERSION AS OF {rel.snapshot_id}", pinned)
    after = _relations(spark, pinned)
    user_pinned = {r.table: r.snapshot_id for r in found if r.time_travel}
    tables: dict[str, TableAt] = {}
    for rel in after:
        if rel.table in want and want[rel.table] is not None and not (rel.time_travel and rel.snapshot_id == want[rel.table]):
            raise ConfigError(
                f"could not pin {rel.table} to snapshot {want[rel.table]} in the query; name it as "
                f"{rel.table} (or {'.'.join((*rel.namespace, rel.name))} in the current catalog), not through an unqualified name or a view"
            )
        at = TableAt(rel.table, rel.snapshot_id, pinned_by_query=rel.table in user_pinned and rel.table not in want)
        if rel.table in tables and tables[rel.table] != at:
            raise ConfigError(f"the query reads {rel.table} at two snapshots ({tables[rel.table].snapshot_id} and {at.snapshot_id})")
        tables[rel.table] = at
    return PinnedQuery(query, pinned, tuple(sorted(tables.values(), key=lambda t: t.table)))
