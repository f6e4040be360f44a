"""Runs the docstring examples of the pure helpers, so they stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "spark_mm.recipe",
    "spark_mm.engine.plan",
    "spark_mm.engine.fingerprint",
    "spark_mm.engine.error_policy",
    "spark_mm.ops.base",
    "spark_mm.lake.tables",
    "spark_mm.engine.arrow_types",
    "spark_mm.engine.jars",
    "spark_mm.sources.ids",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
