"""Daily web-text curation from WARC: the FineWeb and RefinedWeb recipes of jobs/refinedweb.py.

The crawl to read comes, first found wins, from the DAG param ``source_path`` (trigger config), the
Airflow Variable ``spark_mm_<dag id>_source_path``, or the recipe's own ``source.path``.
"""

from datetime import timedelta

from _spark_mm import spark_mm_dag
from airflow.sdk import DAG, Param


def _web_text_dag(name: str) -> DAG:
    return spark_mm_dag(
        name,
        job="refinedweb",
        recipe=f"conf/{name}.yaml",
        schedule="@daily",
        execution_timeout=timedelta(hours=8),
        params={
            "source_path": Param(
                None,
                type=["null", "string"],
                description=f"WARC/WET file or folder (else Variable spark_mm_{name}_source_path, else the recipe's)",
            )
        },
        param_overrides={"source.path": "source_path"},
        variable_overrides={"source.path": f"spark_mm_{name}_source_path"},
        doc_md=__doc__,
    )


fineweb_dag = _web_text_dag("fineweb")
refinedweb_dag = _web_text_dag("refinedweb")
