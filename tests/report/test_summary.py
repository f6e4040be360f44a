"""The run summary says where the lake lives: the resolved project home and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_mm.engine.runner import RunResult
from spark_mm.report.summary import format_summary


def test_summary_names_the_resolved_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = RunResult("r1", "z_image", "ns", "lake")
    monkeypatch.setenv("SPARK_MM_HOME", str(tmp_path / "h"))
    assert f"project home: {tmp_path / 'h'} (SPARK_MM_HOME)" in format_summary(result, "file:/w").splitlines()
    monkeypatch.delenv("SPARK_MM_HOME")
    monkeypatch.chdir(tmp_path)
    assert f"project home: {tmp_path / 'lakehouse'} (default: ./lakehouse under the current directory" in format_summary(result, "file:/w")
