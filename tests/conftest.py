"""Shared fixtures: one SparkSession (Iceberg catalog in a temporary project home) for the whole run,
and the dev stack (object store + REST catalog, and the Spark standalone cluster when a test asks
for it), started once per test session and shared by tests/integration and tests/airflow: every
test that needs it pays its start once.

Fixtures are lazy, so unit tests that never ask for ``spark`` never start a JVM.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[1]
# Real third-party samples live beside the checkout, never inside it; tests using them skip without.
SHARED_DATA = Path(__import__("os").environ.get("SPARK_MM_SHARED_DATA", REPO.parent / "shared" / "data"))
STACK_CATALOG = "stack"  # the REST catalog on S3, as the session's catalog of that name


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared sample data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def lake_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary project home (catalog, warehouse, reports) for the test session."""
    home = tmp_path_factory.mktemp("lakehouse")
    os.environ["SPARK_MM_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def spark(lake_home: Path) -> Iterator[SparkSession]:
    """The one SparkSession of the run: local[2] with the Iceberg catalog ``lake``."""
    from spark_mm.engine.jars import cached_jars
    from spark_mm.engine.session import build_session
    from spark_mm.lake.settings import LakeSettings, SparkSettings

    session = build_session(
        LakeSettings(buckets=4),
        # the AWS bundle when setup --dev fetched it: tests/integration/test_rest_object_store.py adds a
        # REST catalog on S3 to this same session
        SparkSettings(
            master="local[2]",
            conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"},
            s3_jars=cached_jars(s3=True) is not None,
        ),
        app_name="spark-mm-tests",
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The dev stack's object store (moto) and REST catalog on 127.0.0.1, one per test session."""
    from spark_mm.devstack import stack as devstack
    from spark_mm.engine.jars import cached_jars

    if cached_jars(s3=True) is None:
        pytest.skip("Iceberg's AWS bundle is not in .cache/jars: run scripts/setup.sh --dev")
    pytest.importorskip("moto.server", reason="moto's server is the dev stack's object store (spark-mm[stack])")
    root = tmp_path_factory.mktemp("devstack")
    started = devstack.up(root)
    yield started
    devstack.down(root)


@pytest.fixture(scope="session")
def standalone(stack, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A Spark standalone master and two workers (1 core, 2 GiB each) beside the shared stack.

    Started only for the tests that ask for it; its nodes get the store's credentials in their
    environment, as the stack's own ``up(cluster=True)`` gives them. Users: tests/airflow (the
    z_image DAG's submit) and tests/integration/test_standalone_cluster.py, which kills one worker
    and so must stay its last user (it is: pytest runs tests/airflow first).
    """
    from spark_mm.devstack import object_store, spark_cluster

    cluster = spark_cluster.start(tmp_path_factory.mktemp("spark_standalone"), node_env=object_store.credentials_env())
    yield cluster
    spark_cluster.stop(cluster)


@pytest.fixture(scope="session")
def stack_catalog(stack, spark: SparkSession) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Adds the stack's REST catalog to the test session as catalog ``stack``; its name."""
    from spark_mm.devstack import object_store

    lake = stack.lake_settings(catalog=STACK_CATALOG, buckets=4)
    for key, value in lake.spark_conf().items():
        spark.conf.set(key, value)
    # credentials as catalog properties of the session, never in the recipe (the JVM's environment is fixed)
    spark.conf.set(f"spark.sql.catalog.{STACK_CATALOG}.s3.access-key-id", object_store.DEV_ACCESS_KEY)
    spark.conf.set(f"spark.sql.catalog.{STACK_CATALOG}.s3.secret-access-key", object_store.DEV_SECRET_KEY)
    spark.conf.set(f"spark.sql.catalog.{STACK_CATALOG}.client.region", object_store.REGION)
    yield STACK_CATALOG
