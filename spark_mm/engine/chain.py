"""Recipes run one after another in one SparkSession under one run id (``spark-mm run A --then B``).

A multi-phase job such as LAION-5B (``jobs/laion.py``: crawl → links in ``conf/laion_links.yaml``,
then links → images → signals in ``conf/laion.yaml``) is a chain: each phase is an ordinary run
of its recipe into its own namespace, with its own lease, commits and lineage; the later phase
reads the earlier one's tables through its source. Sharing the run id makes a retried chain skip
what each phase already committed, exactly as a retried single run does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyspark.sql import SparkSession

from spark_mm.engine.runner import Runner, RunResult, recompute_targets
from spark_mm.errors import RecipeError
from spark_mm.lake.lineage import new_run_id
from spark_mm.recipe import LoadedRecipe


def split_recompute(recipes: Sequence[LoadedRecipe], names: Iterable[str]) -> list[frozenset[str]]:
    """``--recompute`` names per recipe: each goes to the recipes that have that stage.

    Raises:
        RecipeError: a name is a stage of none of the recipes (or names a dedup step).
    """
    names = list(names)
    out: list[frozenset[str]] = []
    for loaded in recipes:
        stages = {s.name for s in loaded.recipe.stages}
        out.append(recompute_targets(loaded.recipe, [n for n in names if n in stages]))
    unknown = [n for n in names if not any(n in o for o in out)]
    if unknown:
        accepted = sorted({s.name for r in recipes for s in r.recipe.stages})
        raise RecipeError(f"--recompute {unknown[0]}: not a stage of these recipes (dedup steps are never recomputed); accepted: {accepted}")
    return out


def run_chain(
    recipes: Sequence[LoadedRecipe], run_id: str | None = None, spark: SparkSession | None = None, recompute: Iterable[str] = ()
) -> list[tuple[Runner, RunResult]]:
    """Run ``recipes`` in order; the first run's session (``spark`` or the first recipe's) serves them all.

    Every ``--recompute`` name is validated against all recipes before the first one starts.
    """
    if not recipes:
        raise RecipeError("run_chain: no recipe given")
    run_id = run_id or new_run_id()
    targets = split_recompute(recipes, recompute)
    out: list[tuple[Runner, RunResult]] = []
    for loaded, names in zip(recipes, targets):
        runner = Runner(loaded, run_id=run_id, spark=spark, recompute=names)
        spark = runner.spark
        out.append((runner, runner.run()))
    return out
