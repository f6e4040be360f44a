"""Shared fixtures. Spark fixtures live in tests/integration/conftest.py so unit tests stay fast."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Real third-party samples live beside the checkout, never inside it; tests using them skip without.
SHARED_DATA = Path(__import__("os").environ.get("SPARK_MM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared sample data not found at {SHARED_DATA}")
    return SHARED_DATA
