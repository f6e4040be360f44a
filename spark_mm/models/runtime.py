"""Precision and library imports for model stages.

GPU stages compute in half precision (``float16`` by default, ``bfloat16`` on request); the CPU
always computes in ``float32`` because half-precision matmuls there are slow or unsupported.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from spark_mm.errors import MissingDependency
from spark_mm.models.weights import INSTALL_HINT

if TYPE_CHECKING:
    import torch

Precision = Literal["auto", "fp32", "fp16", "bf16"]
_NAMES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def dtype_name(precision: Precision, device: str) -> str:
    """Compute dtype for ``precision`` on ``device``.

    >>> dtype_name("auto", "cuda:0"), dtype_name("bf16", "cuda:1"), dtype_name("fp16", "cpu")
    ('float16', 'bfloat16', 'float32')
    """
    if not device.startswith("cuda"):
        return "float32"
    if precision == "auto":
        return "float16"
    return _NAMES[precision]


def torch_dtype(name: str) -> torch.dtype:
    """The ``torch.dtype`` called ``name`` (``float32``/``float16``/``bfloat16``)."""
    torch = require("torch")
    return getattr(torch, name)  # type: ignore[no-any-return]


def require(module: str, package: str | None = None) -> ModuleType:
    """Import an optional model library or raise ``MissingDependency`` with the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"{module} is needed for model stages but is not installed: {INSTALL_HINT}"
            + (f" (or pip install {package})" if package else "")
        ) from exc
