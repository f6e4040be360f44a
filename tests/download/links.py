"""Helpers of the download tests: an ``image_links`` table with the documented schema, and a run context."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from spark_mm.engine.context import RunContext
from spark_mm.engine.inputs import SAMPLES
from spark_mm.lake.settings import LakeSettings
from spark_mm.lake.tables import Lake
from spark_mm.sources.record_files import SAMPLES_DDL

# the links stage's table (branch `links`, docs/image_text.md): link columns plus LAION filter columns
IMAGE_LINKS_DDL = (
    "link_id string, sample_id string, page_url string, url string, alt string, title string, position int, "
    "laion_alt_ok boolean, laion_alt_reason string"
)


def link(link_id: str | None, url: str | None, alt: str = "a photo", ok: bool = True, page: str = "page1", position: int = 0) -> tuple[Any, ...]:
    return (link_id, page, f"https://site.example/{page}.html", url, alt, f"title of {link_id}", position, ok, None if ok else "alt_too_short")


def write_links(spark: SparkSession, namespace: str, rows: list[tuple[Any, ...]], table: str = "image_links") -> str:
    full = f"lake.{namespace}.{table}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{namespace}")
    spark.sql(f"DROP TABLE IF EXISTS {full}")
    spark.createDataFrame(rows, IMAGE_LINKS_DDL).writeTo(full).using("iceberg").create()
    return full


def context(spark: SparkSession, namespace: str, run_id: str) -> RunContext:
    lake = Lake(spark, LakeSettings(buckets=4), namespace)
    lake.ensure_namespace()
    lake.ensure_table(SAMPLES, spark.createDataFrame([], SAMPLES_DDL).schema)
    return RunContext(spark, lake, run_id, "download_test", "0" * 64, 4)


def samples(spark: SparkSession, namespace: str) -> DataFrame:
    spark.sql(f"REFRESH TABLE lake.{namespace}.samples")
    return spark.table(f"lake.{namespace}.samples")
