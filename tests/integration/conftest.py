"""One session-scoped SparkSession with the Iceberg catalog in a temporary project home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def lake_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lakehouse")
    os.environ["SPARK_MM_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def spark(lake_home: Path) -> Iterator[SparkSession]:
    from spark_mm.engine.session import build_session
    from spark_mm.lake.settings import LakeSettings, SparkSettings

    session = build_session(
        LakeSettings(buckets=4),
        SparkSettings(master="local[2]", conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"}),
        app_name="spark-mm-tests",
    )
    yield session
    session.stop()
