"""Every shipped curation query names its recipe and applies every dedup step that recipe computes
(joins ``${namespace}.dedup_<name>`` and keeps only ``dup_keep``); no Spark needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spark_mm import recipe as recipes

REPO = Path(__file__).resolve().parents[2]
QUERIES = sorted((REPO / "conf").glob("*_curate.sql"))


def test_there_are_shipped_queries() -> None:
    assert {q.name for q in QUERIES} >= {"z_image_curate.sql", "fineweb_curate.sql"}


@pytest.mark.parametrize("query", QUERIES, ids=lambda p: p.name)
def test_query_applies_every_dedup_step_of_its_recipe(query: Path) -> None:
    text = query.read_text()
    named = re.search(r"--recipe (conf/\S+\.yaml)", text)
    assert named, f"{query.name} must name its recipe in its header (--recipe conf/<name>.yaml)"
    recipe = recipes.load(REPO / named.group(1), ["tracking.enabled=false"]).recipe
    sql = "\n".join(line.split("--", 1)[0] for line in text.splitlines())  # comments do not count
    assert recipe.dedup, f"{named.group(1)} has no dedup step; this check would be vacuous"
    for step in recipe.dedup:
        join = re.search(rf"JOIN \$\{{namespace\}}\.dedup_{step.name}\s+(\w+)\s+USING \(sample_id\)", sql)
        assert join, f"{query.name} does not join ${{namespace}}.dedup_{step.name} (dedup step {step.name!r} of {named.group(1)})"
        assert re.search(rf"\b{join.group(1)}\.dup_keep\b", sql), f"{query.name} joins dedup_{step.name} but does not filter on {join.group(1)}.dup_keep"
