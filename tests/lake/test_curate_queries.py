"""Every shipped curation query names its recipe and applies every dedup step that recipe computes
(joins ``${namespace}.dedup_<name>`` and keeps only ``dup_keep``); no Spark needed. The video query
also goes through Spark's analyzer over empty tables with the schemas its recipe's stages write."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spark_mm import recipe as recipes
from spark_mm.dedup.methods import METHODS

REPO = Path(__file__).resolve().parents[2]
QUERIES = sorted((REPO / "conf").glob("*_curate.sql"))
# Queries whose recipe has no dedup step on purpose, and why.
NO_DEDUP: dict[str, str] = {}


def dedup_steps(recipe: object) -> list:
    return list(recipe.dedup)  # type: ignore[attr-defined]


def test_there_are_shipped_queries() -> None:
    assert {q.name for q in QUERIES} >= {"z_image_curate.sql", "fineweb_curate.sql"}


@pytest.mark.parametrize("query", QUERIES, ids=lambda p: p.name)
def test_query_applies_every_dedup_step_of_its_recipe(query: Path) -> None:
    text = query.read_text()
    named = re.search(r"--recipe (conf/\S+\.yaml)", text)
    assert named, f"{query.name} must name its recipe in its header (--recipe conf/<name>.yaml)"
    recipe = recipes.load(REPO / named.group(1), ["tracking.enabled=false"]).recipe
    sql = "\n".join(line.split("--", 1)[0] for line in text.splitlines())  # comments do not count
    if query.name in NO_DEDUP:
        assert not dedup_steps(recipe) and "dedup_" not in sql, f"{query.name} is listed in NO_DEDUP but its recipe or query has dedup"
        return
    assert dedup_steps(recipe), f"{named.group(1)} has no dedup step; this check would be vacuous"
    for step in dedup_steps(recipe):
        key = METHODS[step.method].rows.id_column  # sample_id, or clip_id for clip dedup (the query's rows are clips)
        join = re.search(rf"JOIN \$\{{namespace\}}\.dedup_{step.name}\s+(\w+)\s+USING \({key}\)", sql)
        assert join, f"{query.name} does not join ${{namespace}}.dedup_{step.name} (dedup step {step.name!r} of {named.group(1)})"
        assert re.search(rf"\b{join.group(1)}\.dup_keep\b", sql), f"{query.name} joins dedup_{step.name} but does not filter on {join.group(1)}.dup_keep"


def test_video_query_passes_the_analyzer_over_its_recipes_schemas(spark) -> None:  # type: ignore[no-untyped-def]
    """conf/video_curate.sql resolves against samples, video_clips, dedup_clips and the signals_<stage>
    schemas of conf/video.yaml (global temp views, nothing executed); a misspelt column does not."""
    from pyspark.errors import AnalysisException
    from pyspark.sql.pandas.types import from_arrow_schema

    from spark_mm.engine.runner import signals_table, stage_plans
    from spark_mm.lake.curate import substitute
    from spark_mm.sources.record_files import SAMPLES_DDL
    from spark_mm.video.clips import VIDEO_CLIPS_SCHEMA

    pytest.importorskip("rapidocr")
    recipe = recipes.load(REPO / "conf" / "video.yaml", ["tracking.enabled=false"]).recipe
    views = {
        "samples": spark.createDataFrame([], SAMPLES_DDL),
        "video_clips": spark.createDataFrame([], from_arrow_schema(VIDEO_CLIPS_SCHEMA)),
        "dedup_clips": spark.createDataFrame([], "clip_id string, sample_id string, dup_keep boolean, dup_reason string"),
    }
    for plan in stage_plans(recipe):
        views[signals_table(plan.name)] = spark.createDataFrame([], from_arrow_schema(plan.output_schema()))
    for name, df in views.items():
        df.createOrReplaceGlobalTempView(name)
    try:
        sql = substitute((REPO / "conf" / "video_curate.sql").read_text(), {"namespace": "global_temp"})
        fields = spark.sql(sql).schema.fieldNames()
        assert fields[:2] == ["clip_id", "sample_id"] and {"payload", "start_s", "end_s", "vid_ocr_area_ratio", "vid_aesthetic_score", "vid_caption"} <= set(fields)
        with pytest.raises(AnalysisException):
            spark.sql(sql.replace("c.vid_ocr_ok", "c.vid_ocr_okay")).schema
    finally:
        for name in views:
            spark.catalog.dropGlobalTempView(name)
