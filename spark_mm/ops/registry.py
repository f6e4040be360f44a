"""The operator registry: recipe ``op`` names resolve here, and nowhere else."""

from __future__ import annotations

import importlib
from typing import TypeVar

from spark_mm.ops.base import Operator, OpParams

_OPS: dict[str, type[Operator]] = {}  # type: ignore[type-arg]

# Modules holding built-in operators. Listed, not discovered, so import order is explicit and
# importing one never pulls heavy dependencies (models load lazily in ``Operator.setup``).
BUILTIN_MODULES: tuple[str, ...] = (
    "spark_mm.ops.image_meta",
    "spark_mm.ops.image_signals",
    "spark_mm.ops.video_meta",
    "spark_mm.ops.video_duration",
    "spark_mm.ops.video_motion",
    "spark_mm.ops.video_ocr",
    "spark_mm.ops.text_extract",
    "spark_mm.ops.text_lang",
    "spark_mm.ops.text_rules",
    "spark_mm.ops.url_filter",
    "spark_mm.ops.dedup_keys",
    "spark_mm.ops.dedup_minhash",
    "spark_mm.ops.model_clip",
    "spark_mm.ops.model_siglip",
    "spark_mm.ops.model_aesthetic",
    "spark_mm.ops.model_video_aesthetic",
    "spark_mm.ops.model_aigc",
    "spark_mm.ops.model_nsfw",
    "spark_mm.ops.model_video_nsfw",
    "spark_mm.ops.model_video_caption",
    "spark_mm.ops.model_fasttext",
    "spark_mm.ops.model_edu",
    "spark_mm.ops.model_perplexity",
)

O = TypeVar("O", bound=type[Operator])  # type: ignore[type-arg]


def register(cls: O) -> O:
    """Class decorator that makes an operator available to recipes under ``cls.name``."""
    name = cls.name
    if name in _OPS and _OPS[name] is not cls:
        raise ValueError(f"operator name {name!r} registered twice ({_OPS[name].__module__}, {cls.__module__})")
    _OPS[name] = cls
    return cls


def load_builtins() -> None:
    """Import every built-in operator module (idempotent)."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def operators() -> dict[str, type[Operator]]:  # type: ignore[type-arg]
    """All registered operators by name, built-ins included."""
    load_builtins()
    return dict(sorted(_OPS.items()))


def build(params: OpParams) -> Operator:  # type: ignore[type-arg]
    """Instantiate the operator a validated params object names."""
    return operators()[params.op](params)
