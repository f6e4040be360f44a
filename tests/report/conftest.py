"""The report tests share the integration suite's SparkSession and project home (one JVM per run)."""

from tests.integration.conftest import lake_home, spark  # noqa: F401  (re-exported fixtures)
