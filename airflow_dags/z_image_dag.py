"""Daily Z-Image style image curation: spark-submit jobs/z_image.py --recipe conf/z_image.yaml.

Trigger with recipe overrides, e.g. ``{"overrides": ["source.type=parquet", "source.path=/data/x.parquet"]}``.
"""

from datetime import timedelta

from _spark_mm import spark_mm_dag
from airflow.sdk import DAG

dag: DAG = spark_mm_dag(
    "z_image",
    job="z_image",
    recipe="conf/z_image.yaml",
    schedule="@daily",
    execution_timeout=timedelta(hours=4),
    doc_md=__doc__,
)
