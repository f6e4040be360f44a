"""Daily video curation: spark-submit jobs/video.py --recipe conf/video.yaml (scene clips, video signals).

The recipe reads the embedded sample. Trigger with recipe overrides for your videos, e.g.
``{"overrides": ["source.type=video_files", "source.path=/data/videos"]}``.
"""

from datetime import timedelta

from _spark_mm import spark_mm_dag
from airflow.sdk import DAG

dag: DAG = spark_mm_dag(
    "video",
    job="video",
    recipe="conf/video.yaml",
    schedule="@daily",
    execution_timeout=timedelta(hours=8),
    doc_md=__doc__,
)
