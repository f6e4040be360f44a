"""spark-mm runs / lineage: what pyiceberg reads from snapshot summaries matches Spark's metadata
tables, WAP publishes keep their lineage, and the commands never start Spark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from spark_mm.lake import inspect
from spark_mm.lake.lineage import Lineage
from spark_mm.lake.settings import LakeSettings
from spark_mm.lake.tables import Lake

NS = "insp"
SETTINGS = LakeSettings(buckets=4)
SCHEMA = T.StructType([T.StructField("sample_id", T.StringType()), T.StructField("v", T.IntegerType())])


def _lineage(run_id: str, stage: str, input_: str) -> Lineage:
    return Lineage(run_id=run_id, job="toy", recipe_sha256="ab" * 32, code_version="test", stage=stage, ops=("toy@1",), input=input_)


@pytest.fixture(scope="module")
def commits(spark: SparkSession) -> dict[str, int]:
    """Two runs over two tables, written through Lake.append (write-audit-publish)."""
    lake = Lake(spark, SETTINGS, NS)
    lake.ensure_namespace()
    for t in ("samples", "signals_toy"):
        lake.ensure_table(t, SCHEMA)
    out: dict[str, int] = {}
    out["r1.samples"] = lake.append("samples", spark.createDataFrame([("a", 1), ("b", 2)], SCHEMA), _lineage("r1", "ingest", "files:x")).snapshot_id  # type: ignore[union-attr]
    out["r1.signals"] = lake.append("signals_toy", spark.createDataFrame([("a", 1), ("b", 2)], SCHEMA), _lineage("r1", "toy", f"lake.{NS}.samples@{out['r1.samples']}")).snapshot_id  # type: ignore[union-attr]
    out["r2.samples"] = lake.append("samples", spark.createDataFrame([("c", 3)], SCHEMA), _lineage("r2", "ingest", "files:y")).snapshot_id  # type: ignore[union-attr]
    # a staged write whose audit refused it: never published
    with pytest.raises(RuntimeError):
        lake.append("signals_toy", spark.createDataFrame([("c", 3)], SCHEMA), _lineage("r3", "toy", "x"), audit=lambda df: (_ for _ in ()).throw(RuntimeError("audit")))
    return out


def test_lineage_matches_spark_snapshots(commits: dict[str, int], spark: SparkSession) -> None:
    snaps = inspect.lineage(f"{NS}.samples", SETTINGS)
    spark_rows = spark.sql(f"SELECT snapshot_id, summary FROM lake.{NS}.samples.snapshots ORDER BY committed_at").collect()
    assert [s.snapshot_id for s in snaps] == [r[0] for r in spark_rows]
    main = [s for s in snaps if s.status == "main" and s.run_id]
    assert [(s.run_id, s.snapshot_id) for s in main] == [("r1", commits["r1.samples"]), ("r2", commits["r2.samples"])]
    by_id = {s.snapshot_id: s for s in snaps}
    assert by_id[commits["r2.samples"]].added_records == 1 and by_id[commits["r2.samples"]].total_records == 3
    assert by_id[commits["r1.samples"]].lineage["input"] == "files:x" and by_id[commits["r1.samples"]].lineage["stage"] == "ingest"
    assert f"VERSION AS OF {commits['r2.samples']}" in by_id[commits["r2.samples"]].time_travel
    assert "main" in by_id[commits["r2.samples"]].refs
    # the same through the lake.<ns>.<table> spelling, and a missing table is a clear error
    assert [s.snapshot_id for s in inspect.lineage(f"lake.{NS}.samples", SETTINGS)] == [s.snapshot_id for s in snaps]
    with pytest.raises(Exception, match="does not exist"):
        inspect.lineage(f"{NS}.nope", SETTINGS)


def test_runs_group_commits(commits: dict[str, int], spark: SparkSession) -> None:
    found = {r.run_id: r for r in inspect.runs(NS, SETTINGS)}
    assert set(found) == {"r1", "r2", "r3"}
    r1 = found["r1"]
    assert r1.job == "toy" and r1.stages == ["ingest", "toy"] and r1.added_records == 4
    assert sorted(r1.snapshot_ids) == sorted([commits["r1.samples"], commits["r1.signals"]])
    assert r1.tables == [f"{NS}.samples", f"{NS}.signals_toy"]
    assert found["r2"].snapshot_ids == [commits["r2.samples"]]
    staged = spark.sql(f"SELECT snapshot_id FROM lake.{NS}.signals_toy.snapshots WHERE summary['spark-mm.run-id'] = 'r3'").first()[0]
    assert found["r3"].snapshot_ids == [] and found["r3"].staged_only == [staged]
    text = inspect.format_runs(list(found.values()))
    assert "r1" in text and str(commits["r1.signals"]) in text


_PROBE = """
import json, sys, time
t0 = time.monotonic()
from spark_mm.cli import main
rc = main(sys.argv[1:])
spark_started = False
if "pyspark" in sys.modules:
    from pyspark import SparkContext
    spark_started = SparkContext._active_spark_context is not None
print(json.dumps({"rc": rc, "spark": spark_started, "seconds": time.monotonic() - t0}), file=sys.stderr)
"""


def _cli(lake_home: Path, *args: str) -> tuple[str, dict[str, object]]:
    env = {**os.environ, "SPARK_MM_HOME": str(lake_home)}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, probe


def test_cli_without_spark(commits: dict[str, int], lake_home: Path) -> None:
    start = time.monotonic()
    out, probe = _cli(lake_home, "runs", "--namespace", NS, "--format", "json")
    assert probe["rc"] == 0 and probe["spark"] is False
    runs = {r["run_id"]: r for r in json.loads(out)}
    assert runs["r2"]["snapshot_ids"] == [commits["r2.samples"]]
    out, probe = _cli(lake_home, "lineage", f"{NS}.signals_toy")
    assert probe["rc"] == 0 and probe["spark"] is False
    assert str(commits["r1.signals"]) in out and f"SELECT * FROM lake.{NS}.signals_toy VERSION AS OF {commits['r1.signals']}" in out
    assert time.monotonic() - start < 60  # two interpreter starts; a JVM start alone takes longer on loaded CI


def test_runs_lists_stages_in_commit_order_not_by_table_name(tmp_path: Path) -> None:
    """pyiceberg alone (no Spark): tables whose names sort against the run order (dedup_ < samples < signals_)."""
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("lake", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=(tmp_path / "wh").as_uri())
    catalog.create_namespace("order")
    rows = pa.table({"sample_id": pa.array(["a"], pa.string())})
    for table, stage in (("samples", "ingest"), ("signals_zeta", "zeta"), ("signals_alpha", "alpha"), ("dedup_text", "dedup_text")):
        t = catalog.create_table(("order", table), schema=rows.schema)
        t.append(rows, snapshot_properties={"spark-mm.run-id": "r1", "spark-mm.stage": stage, "spark-mm.job": "toy"})
        time.sleep(0.01)  # distinct commit milliseconds
    (found,) = inspect.runs("order", catalog=catalog)
    assert found.stages == ["ingest", "zeta", "alpha", "dedup_text"]
    assert "ingest,zeta,alpha,dedup_text" in inspect.format_runs([found])
