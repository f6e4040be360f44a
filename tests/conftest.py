"""Shared fixtures: one SparkSession (Iceberg catalog in a temporary project home) for the whole run.

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
