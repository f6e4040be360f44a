"""The z_image job on a real REST catalog (Iceberg's own server) with its tables on an S3 object
store (moto's server), both started on 127.0.0.1 by the session's ``stack`` fixture: every table equals the embedded
run of the same recipe, run id and input (``first_run``), and ``spark-mm runs`` reads it back."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from spark_mm import recipe as recipes
from spark_mm.devstack import object_store
from spark_mm.devstack import stack as devstack
from spark_mm.engine.runner import Runner
from spark_mm.lake.inspect import runs

REPO = Path(__file__).resolve().parents[2]
CATALOG = "stack"  # the catalog stack_catalog adds to the session
NS = "zi"  # the namespace of first_run, so every table name and sample id match


@pytest.fixture(scope="module")
def stack_run(stack: devstack.Stack, stack_catalog: str, spark: SparkSession, first_run):  # type: ignore[no-untyped-def]
    """The same recipe as first_run into catalog ``stack`` (the session-wide stack, tests/conftest.py)."""
    overrides = [f"namespace={NS}", "tracking.enabled=false", f"lake.catalog={stack_catalog}", "lake.buckets=4"]
    overrides += [f for f in stack.set_flags()]
    loaded = recipes.load(REPO / "conf" / "z_image.yaml", overrides)
    return Runner(loaded, run_id="run-1", spark=spark).run()


def _rows(df: DataFrame) -> list[tuple[object, ...]]:
    return sorted(tuple(map(repr, r)) for r in df.collect())


def test_every_table_equals_the_embedded_run(stack_run, first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    _, embedded = first_run
    assert [(s.stage, s.rows_in, s.rows_out) for s in stack_run.stages] == [(s.stage, s.rows_in, s.rows_out) for s in embedded.stages]
    local = {r.tableName for r in spark.sql(f"SHOW TABLES IN lake.{NS}").collect()}
    remote = {r.tableName for r in spark.sql(f"SHOW TABLES IN {CATALOG}.{NS}").collect()}
    assert remote == local and "samples" in remote
    for table in sorted(remote):
        a, b = spark.table(f"lake.{NS}.{table}"), spark.table(f"{CATALOG}.{NS}.{table}")
        assert a.schema == b.schema, table
        assert _rows(b) == _rows(a), table
    files = spark.sql(f"SELECT file_path FROM {CATALOG}.{NS}.samples.files").collect()
    assert files and all(f.file_path.startswith(devstack.WAREHOUSE + "/") for f in files)


def test_runs_reads_the_rest_catalog_with_pyiceberg(stack_run, stack: devstack.Stack, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for key, value in object_store.credentials_env().items():
        monkeypatch.setenv(key, value)
    (run,) = runs(NS, stack.lake_settings(catalog=CATALOG, buckets=4))
    assert run.run_id == "run-1" and run.stages == [s.stage for s in stack_run.stages]
