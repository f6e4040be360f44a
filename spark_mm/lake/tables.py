"""Iceberg tables of one namespace: creation with bucket partitioning, lineage-tagged appends,
and finding a run's earlier commit (which is what makes a retried run append nothing twice)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from spark_mm.lake.identifiers import check_name, sql_string
from spark_mm.lake.lineage import PREFIX, Lineage
from spark_mm.lake.settings import LakeSettings

# Every per-sample table: bucket(N, sample_id); writers keep each task's rows in its own files
# (no shuffle before the write: stages read bucket-grouped input already).
_TABLE_PROPERTIES = {
    "format-version": "2",
    "write.distribution-mode": "none",
    "write.spark.fanout.enabled": "true",
    "write.spark.accept-any-schema": "true",
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

    def append(self, name: str, frame: DataFrame, lineage: Lineage, audit: Callable[[DataFrame], object] | None = None) -> Commit | None:
        """Write-audit-publish ``frame`` with lineage in the snapshot summary.

        The write is staged under the lineage's WAP id (``main`` does not move), ``audit`` gets the
        rows the staged snapshot added and raises to refuse them, and only then is the snapshot
        published (by snapshot id, so a stale staged attempt of the same chunk is never published).
        Returns the published commit, or None when nothing was staged.
        """
        full = self.table(name)
        self.spark.conf.set("spark.wap.id", lineage.wap_id)
        try:
            writer = frame.writeTo(full).option("mergeSchema", "true")
            for key, value in lineage.properties().items():
                writer = writer.option(f"snapshot-property.{key}", value)
            writer.append()
        finally:
            self.spark.conf.unset("spark.wap.id")
        staged = self._staged_snapshot(name, lineage.wap_id)
        if staged is None:
            return None
        if audit is not None:
            audit(self.added_rows(name, staged))
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
