"""Integration fixtures. ``spark`` and ``lake_home`` are the session-wide ones from tests/conftest.py.

The dev stack (object store + REST catalog, and the Spark standalone cluster when a test asks for
it) is started once per test session and shared: every test that needs it pays its start once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[2]
STACK_CATALOG = "stack"  # the REST catalog on S3, as the session's catalog of that name


@pytest.fixture(scope="session")
def first_run(spark: SparkSession, lake_home: Path):  # type: ignore[no-untyped-def]
    """The z_image job on the embedded sample, run once per test session (namespace ``zi``)."""
    from spark_mm import recipe as recipes
    from spark_mm.engine.runner import Runner

    loaded = recipes.load(REPO / "conf" / "z_image.yaml", ["namespace=zi", "lake.buckets=4", "tracking.enabled=false"])
    result = Runner(loaded, run_id="run-1", spark=spark).run()
    return loaded, result


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
    environment, as the stack's own ``up(cluster=True)`` gives them.
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
