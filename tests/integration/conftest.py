"""Integration fixtures. ``spark``, ``lake_home`` and the dev stack's ``stack``, ``standalone`` and
``stack_catalog`` are the session-wide ones from tests/conftest.py (shared with tests/airflow).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def first_run(spark: SparkSession, lake_home: Path):  # type: ignore[no-untyped-def]
    """The z_image job on the embedded sample, run once per test session (namespace ``zi``)."""
    from spark_mm import recipe as recipes
    from spark_mm.engine.runner import Runner

    loaded = recipes.load(REPO / "conf" / "z_image.yaml", ["namespace=zi", "lake.buckets=4", "tracking.enabled=false"])
    result = Runner(loaded, run_id="run-1", spark=spark).run()
    return loaded, result
