"""Write-audit-publish when an earlier attempt of the same chunk left a staged snapshot behind.

A run killed (or refused by its audit) after a chunk was staged but before it was published leaves
a staged snapshot with the chunk's WAP id. When the run is resumed with the same run id the chunk is
written and audited again; what gets published must be the snapshot that was just audited, not the
stale one (``publish_changes`` by WAP id picks the first snapshot carrying that id).
"""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from spark_mm.lake.audit import AuditFailed
from spark_mm.lake.lineage import Lineage
from spark_mm.lake.settings import LakeSettings
from spark_mm.lake.tables import Lake

NS = "rel_wap"


def _lineage(run_id: str) -> Lineage:
    return Lineage(run_id, "test", "0" * 64, "test", "stage_a", ("op@1",), "input", "1/2")


def test_resumed_chunk_publishes_the_snapshot_it_audited(spark: SparkSession) -> None:
    lake = Lake(spark, LakeSettings(buckets=4), NS)
    lake.ensure_namespace()
    spark.sql(f"DROP TABLE IF EXISTS lake.{NS}.t")
    schema = "sample_id string, value int, run_id string"
    lake.ensure_table("t", spark.createDataFrame([], schema).schema)
    lineage = _lineage("run-1")

    def refuse(_added: object) -> None:
        raise AuditFailed("first attempt refused")

    stale = spark.createDataFrame([("a", 1, "run-1"), ("b", 1, "run-1")], schema)
    with pytest.raises(AuditFailed, match="first attempt refused"):
        lake.append("t", stale, lineage, audit=refuse)
    assert lake.current_snapshot_id("t") is None  # main untouched by the refused attempt
    staged = spark.sql(f"SELECT snapshot_id FROM lake.{NS}.t.snapshots WHERE summary['wap.id'] = '{lineage.wap_id}'").collect()
    assert len(staged) == 1

    audited: list[list[tuple]] = []  # type: ignore[type-arg]
    fresh = spark.createDataFrame([("a", 2, "run-1"), ("b", 2, "run-1"), ("c", 2, "run-1")], schema)
    commit = lake.append("t", fresh, lineage, audit=lambda added: audited.append(sorted(tuple(r) for r in added.collect())))
    assert audited == [[("a", 2, "run-1"), ("b", 2, "run-1"), ("c", 2, "run-1")]]
    assert commit is not None and commit.added_records == 3
    published = sorted(tuple(r) for r in spark.table(f"lake.{NS}.t").collect())
    assert published == audited[0], "main must hold the rows that passed the audit, not the stale staged attempt"
    assert lake.find_commit("t", "run-1", "stage_a", "1/2") == commit
    # A third attempt of a published chunk is refused by Iceberg rather than appended twice.
    with pytest.raises(Exception, match="DuplicateWAPCommit|already"):
        lake.append("t", fresh, lineage)
    assert spark.table(f"lake.{NS}.t").count() == 3
