"""Runs the docstring examples of every module under ``spark_mm/``, so they stay true.

Modules are found by walking the package, not listed, so a new module's examples run without
anyone remembering to add it. Importing a module must not start Spark (no import-time side
effects), which this checks too.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import spark_mm


def all_modules() -> list[str]:
    """Every importable module of the package (the native extension has no Python docstrings)."""
    names = [m.name for m in pkgutil.walk_packages(spark_mm.__path__, prefix="spark_mm.")]
    return sorted(n for n in names if n != "spark_mm._native")


MODULES = all_modules()


def test_the_walk_finds_the_modules_with_examples() -> None:
    # a guard against the walk silently finding nothing (e.g. a packaging change)
    assert {"spark_mm.recipe", "spark_mm.lake.identifiers", "spark_mm.ops.text_rules", "spark_mm.report.html"} <= set(MODULES)
    assert len(MODULES) > 60


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    from pyspark import SparkContext

    had_spark = SparkContext._active_spark_context is not None
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
    if not had_spark:
        assert SparkContext._active_spark_context is None, f"importing {name} (or its examples) started Spark"
