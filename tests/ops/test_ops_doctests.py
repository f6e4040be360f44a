"""Runs the docstring examples of the operator modules' pure helpers, so they stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["spark_mm.ops.base", "spark_mm.ops.text_rules", "spark_mm.ops.text_extract"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name == "spark_mm.ops.text_extract":
        pytest.importorskip("resiliparse")
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
