"""Iceberg tables of one namespace: creation with bucket partitioning, lineage-tagged appends and
replacing merges, and finding a run's earlier commit (which makes a retried run append nothing twice)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.lake.identifiers import check_name, sql_string
from spark_mm.lake.lineage import PREFIX, Lineage
from spark_mm.lake.settings import LakeSettings

_ACCEPT_ANY_SCHEMA = "write.spark.accept-any-schema"

# Every per-sample table: bucket(N, sample_id); writers keep each task's rows in its own files
# (no shuffle before the write: stages read bucket-grouped input already).
_TABLE_PROPERTIES = {
    "format-version": "2",
    "write.distribution-mode": "none",
    "write.spark.fanout.enabled": "true",
    _ACCEPT_ANY_SCHEMA: "true",  # appends may add columns (a new operator); see Lake.replace
    "write.parquet.compression-codec": "zstd",
    "write.wap.enabled": "true",  # stage commits are staged, audited, then published
    # Iceberg's vectorized reader defaults to 5000-row batches; with image payloads in the rows
    # that is gigabytes per batch (see the Parquet batch cap in engine/session.py).
    "read.parquet.vectorization.batch-size": "256",
}


@dataclass(frozen=True)
class Commit:
    """A snapshot spark-mm wrote: its id and the rows it added."""

    snapshot_id: int
    added_records: int
    summary: dict[str, str]


class Lake:
    """The tables of one namespace in one catalog."""

    def __init__(self, spark: SparkSession, settings: LakeSettings, namespace: str) -> None:
        self.spark = spark
        self.settings = settings
        self.namespace = check_name(namespace, "namespace")

    def table(self, name: str) -> str:
        return f"{self.settings.catalog}.{self.namespace}.{name}"

    def ensure_namespace(self) -> None:
        self.spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {self.settings.catalog}.{self.namespace}")

    def exists(self, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(self.table(name)))

    def ensure_table(self, name: str, schema: T.StructType) -> None:
        """Create the table partitioned by ``bucket(N, sample_id)`` if it does not exist; add new columns if it does."""
        full = self.table(name)
        if not self.exists(name):
            cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}" for f in schema.fields)
            props = ", ".join(f"'{k}'='{v}'" for k, v in _TABLE_PROPERTIES.items())
            self.spark.sql(
                f"CREATE TABLE IF NOT EXISTS {full} ({cols}) USING iceberg "
                f"PARTITIONED BY (bucket({self.settings.buckets}, sample_id)) TBLPROPERTIES ({props})"
            )
            return
        existing = {f.name for f in self.spark.table(full).schema.fields}
        for f in schema.fields:
            if f.name not in existing:
                self.spark.sql(f"ALTER TABLE {full} ADD COLUMN `{f.name}` {f.dataType.simpleString()}")

    def current_snapshot_id(self, name: str) -> int | None:
        rows = self.spark.sql(f"SELECT snapshot_id FROM {self.table(name)}.history WHERE is_current_ancestor ORDER BY made_current_at DESC LIMIT 1").collect()
        return int(rows[0][0]) if rows else None

    def commits(self, name: str) -> list[Commit]:
        """spark-mm commits in the table's current history, oldest first."""
        rows = self.spark.sql(
            f"SELECT s.snapshot_id, s.summary FROM {self.table(name)}.snapshots s "
            f"JOIN {self.table(name)}.history h ON s.snapshot_id = h.snapshot_id "
            f"WHERE h.is_current_ancestor ORDER BY s.committed_at"
        ).collect()
        staged = {
            r[0]["wap.id"]: dict(r[0])
            for r in self.spark.sql(f"SELECT summary FROM {self.table(name)}.snapshots WHERE summary['wap.id'] IS NOT NULL").collect()
        }
        out = []
        for r in rows:
            summary = dict(r[1])
            wap = summary.get("published-wap-id")
            if wap in staged:  # a cherry-picked publish: lineage lives on the staged snapshot
                summary = {**{k: v for k, v in staged[wap].items() if k.startswith(PREFIX)}, **summary}
            if f"{PREFIX}run-id" in summary:
                out.append(Commit(int(r[0]), int(summary.get("added-records", 0)), summary))
        return out

    def find_commit(self, name: str, run_id: str, stage: str, chunk: str | None = None) -> Commit | None:
        """The published commit this run already made for this stage (and chunk), if any."""
        if not self.exists(name):
            return None
        for c in self.commits(name):
            s = c.summary
            if s.get(f"{PREFIX}run-id") == run_id and s.get(f"{PREFIX}stage") == stage and (chunk is None or s.get(f"{PREFIX}chunk", "1/1") == chunk):
                return c
        return None

    def append(
        self, name: str, frame: DataFrame, lineage: Lineage, audit: Callable[[DataFrame], object] | None = None, extra: dict[str, str] | None = None
    ) -> Commit | None:
        """Write-audit-publish ``frame`` with lineage in the snapshot summary.

        The write is staged under the lineage's WAP id (``main`` does not move), ``audit`` gets the
        rows the staged snapshot added and raises to refuse them, and only then is the snapshot
        published (by snapshot id, so a stale staged attempt of the same chunk is never published).
        ``extra`` adds snapshot properties beside the lineage (keys taken as given).
        Returns the published commit, or None when nothing was staged.
        """
        full = self.table(name)
        self.spark.conf.set("spark.wap.id", lineage.wap_id)
        try:
            writer = frame.writeTo(full).option("mergeSchema", "true")
            for key, value in {**lineage.properties(), **(extra or {})}.items():
                writer = writer.option(f"snapshot-property.{key}", value)
            writer.append()
        finally:
            self.spark.conf.unset("spark.wap.id")
        staged = self._staged_snapshot(name, lineage.wap_id)
        if staged is None:
            return None
        if audit is not None:
            audit(self.added_rows(name, staged))
        return self._publish(name, staged, lineage)

    def replace(
        self, name: str, frame: DataFrame, lineage: Lineage, audit: Callable[[DataFrame], object] | None = None, extra: dict[str, str] | None = None,
        key: str = "sample_id",
    ) -> Commit | None:
        """Write-audit-publish ``frame`` as ONE commit that replaces the rows with the same
        ``key`` (``sample_id``; ``clip_id`` for a clip stage) and inserts the others (a ``MERGE INTO`` on it).

        ``frame`` is materialised once on the executors first (``localCheckpoint``): MERGE reads
        its source twice (to find the files to rewrite, then to rewrite them) and a stage's
        output must not be computed twice. The MERGE is staged under the lineage's WAP id, and
        ``audit`` gets the whole table as of the staged snapshot (a MERGE rewrites files, so
        "the rows it added" is not an incremental read). Publishing is the same cherry-pick as
        :meth:`append`: the staged snapshot's parent is ``main``, so it fast-forwards.
        Columns of the table that ``frame`` lacks (an operator dropped from the recipe) are null.

        Spark 4.1 cannot resolve a MERGE into a table with ``write.spark.accept-any-schema``
        (``UNRESOLVED_COLUMN`` on the ON clause, also with explicit assignments), so the first
        replace drops that property: a metadata-only change, no snapshot. Later appends do not
        need it: ``ensure_table`` adds new columns before every write, and missing columns are
        written as null.
        """
        full = self.table(name)
        props = {r[0]: r[1] for r in self.spark.sql(f"SHOW TBLPROPERTIES {full}").collect()}
        if props.get(_ACCEPT_ANY_SCHEMA) == "true":
            self.spark.sql(f"ALTER TABLE {full} UNSET TBLPROPERTIES ('{_ACCEPT_ANY_SCHEMA}')")
        target = {f.name: f.dataType for f in self.spark.table(full).schema.fields}
        aligned = frame.select(*[F.col(c) if c in frame.columns else F.lit(None).cast(t).alias(c) for c, t in target.items()])
        view = f"spark_mm_replace_{self.namespace}_{name}"
        aligned.localCheckpoint(eager=True).createOrReplaceTempView(view)
        props = {**lineage.properties(), **(extra or {})}
        self.spark.conf.set("spark.wap.id", lineage.wap_id)
        for prop, value in props.items():
            self.spark.conf.set(f"spark.sql.iceberg.snapshot-property.{prop}", value)
        try:
            self.spark.sql(merge_by_key_sql(full, view, list(target), key))
        finally:
            self.spark.conf.unset("spark.wap.id")
            for prop in props:
                self.spark.conf.unset(f"spark.sql.iceberg.snapshot-property.{prop}")
            self.spark.catalog.dropTempView(view)
        staged = self._staged_snapshot(name, lineage.wap_id)
        if staged is None:
            return None
        if audit is not None:
            audit(self.spark.read.option("versionAsOf", staged).table(full))
        return self._publish(name, staged, lineage)

    def _publish(self, name: str, staged: int, lineage: Lineage) -> Commit | None:
        # Publish exactly the snapshot that was audited. An earlier attempt of this chunk (a killed
        # run, a refused audit) may have left a staged snapshot with the same WAP id, and
        # publish_changes(wap_id) refuses non-unique ids, so a resumed run could never publish.
        self.spark.sql(f"CALL {self.settings.catalog}.system.cherrypick_snapshot(table => {sql_string(self.table(name))}, snapshot_id => {staged})")
        return self.find_commit(name, lineage.run_id, lineage.stage, lineage.chunk)

    def _staged_snapshot(self, name: str, wap_id: str) -> int | None:
        rows = self.spark.sql(
            f"SELECT snapshot_id FROM {self.table(name)}.snapshots WHERE summary['wap.id'] = {sql_string(wap_id)} ORDER BY committed_at DESC LIMIT 1"
        ).collect()
        return int(rows[0][0]) if rows else None

    def added_rows(self, name: str, snapshot_id: int) -> DataFrame:
        """The rows one append snapshot added (an incremental read from its parent)."""
        parent = self.spark.sql(f"SELECT parent_id FROM {self.table(name)}.snapshots WHERE snapshot_id = {snapshot_id}").first()[0]
        reader = self.spark.read.format("iceberg").option("end-snapshot-id", str(snapshot_id))
        if parent is not None:
            reader = reader.option("start-snapshot-id", str(parent))
            return reader.load(self.table(name))
        return self.spark.read.option("versionAsOf", snapshot_id).table(self.table(name))


def merge_by_key_sql(table: str, view: str, columns: list[str], key: str = "sample_id") -> str:
    """MERGE replacing ``table``'s rows by ``key`` from ``view``, inserting the rest.

    Assignments are spelled out: Spark 4.1 fails to resolve ``UPDATE SET *`` / ``INSERT *`` on
    tables that accept any schema (``write.spark.accept-any-schema``).

    >>> print(merge_by_key_sql("lake.ns.signals_s", "v", ["sample_id", "x"]))  # doctest: +NORMALIZE_WHITESPACE
    MERGE INTO lake.ns.signals_s t USING v s ON t.`sample_id` = s.`sample_id`
    WHEN MATCHED THEN UPDATE SET t.`sample_id` = s.`sample_id`, t.`x` = s.`x`
    WHEN NOT MATCHED THEN INSERT (`sample_id`, `x`) VALUES (s.`sample_id`, s.`x`)
    """
    sets = ", ".join(f"t.`{c}` = s.`{c}`" for c in columns)
    cols = ", ".join(f"`{c}`" for c in columns)
    vals = ", ".join(f"s.`{c}`" for c in columns)
    return (
        f"MERGE INTO {table} t USING {view} s ON t.`{key}` = s.`{key}`\n"
        f"WHEN MATCHED THEN UPDATE SET {sets}\n"
        f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({vals})"
    )
