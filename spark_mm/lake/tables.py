"""Iceberg tables of one namespace: creation with bucket partitioning, lineage-tagged appends,
and finding a run's earlier commit (which is what makes a retried run append nothing twice)."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

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
        self.namespace = namespace

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
        return [Commit(int(r[0]), int(r[1].get("added-records", 0)), dict(r[1])) for r in rows if f"{PREFIX}run-id" in r[1]]

    def find_commit(self, name: str, run_id: str, stage: str) -> Commit | None:
        """The commit this run already made for this stage, if any."""
        if not self.exists(name):
            return None
        for c in self.commits(name):
            if c.summary.get(f"{PREFIX}run-id") == run_id and c.summary.get(f"{PREFIX}stage") == stage:
                return c
        return None

    def append(self, name: str, frame: DataFrame, lineage: Lineage) -> Commit | None:
        """Append ``frame`` with lineage in the snapshot summary; None when nothing was committed."""
        before = self.current_snapshot_id(name)
        writer = frame.writeTo(self.table(name)).option("mergeSchema", "true")
        for key, value in lineage.properties().items():
            writer = writer.option(f"snapshot-property.{key}", value)
        writer.append()
        after = self.current_snapshot_id(name)
        if after is None or after == before:
            return None
        return self.find_commit(name, lineage.run_id, lineage.stage)
