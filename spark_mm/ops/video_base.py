"""What every per-video operator shares: where a row's video is (inline payload, or a reference
through ``source_uri`` + ``record_meta``: spark_mm/sources/video_bytes.py) and a plan-time check
that its libraries are importable, so a missing PyAV fails on the driver, not in a task."""

from __future__ import annotations

import importlib.util
from typing import Any

from spark_mm.errors import MissingDependency
from spark_mm.ops.base import OpParams


class VideoInputParams(OpParams):
    payload_column: str = "payload"
    uri_column: str = "source_uri"
    meta_column: str = "record_meta"


def require_modules(modules: tuple[str, ...], install: str) -> None:
    """Raise :class:`MissingDependency` with ``install`` when one of ``modules`` is not importable."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingDependency(install)


class VideoInputs:
    """Mixin for operators over ``VideoInputParams``: the three columns they read. A row with
    neither payload nor reference is the operator's own ``missing_input``, so nothing is required."""

    params: Any

    @property
    def reads(self) -> tuple[str, ...]:
        p = self.params
        return (p.payload_column, p.uri_column, p.meta_column)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        return ()
