"""OpenCLIP models: where their weights live, how they load, how they embed.

A CLIP model is named like open_clip does: an architecture (``ViT-L-14``) plus a pretrained tag
(``openai``, ``laion2b_s32b_b82k``, ``datacomp_xl_s13b_b90k``). Weights are found as
``spark_mm.models.weights`` describes; ``weights.path`` may be

* a checkpoint file (``.safetensors``, or a ``.bin``/``.pt`` state dict read with
  ``weights_only=True``) for the named architecture and tag, or
* a directory in the open_clip hub layout (``open_clip_config.json`` + ``open_clip_model.safetensors``),
  in which case the directory's config decides the architecture.

The tag's own settings (QuickGELU, normalisation mean/std, resize mode) are applied when a bare
file is given, exactly as open_clip applies them for a downloaded tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_mm.errors import ConfigError
from spark_mm.models.runtime import require
from spark_mm.models.weights import HubFile, WeightsLocation

HUB_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.bin")
_PRECISION = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def clip_model_id(model: str, pretrained: str) -> str:
    """Cache/message identity of an OpenCLIP model, e.g. ``open_clip:ViT-B-32/openai``."""
    return f"open_clip:{model}/{pretrained}"


def hub_files(model: str, pretrained: str) -> tuple[HubFile, ...]:
    """Hugging Face files that hold the weights of ``model``/``pretrained`` (empty if unknown)."""
    open_clip = require("open_clip", "open_clip_torch")
    cfg = open_clip.get_pretrained_cfg(model, pretrained) or {}
    hub = str(cfg.get("hf_hub") or "").strip("/")
    if not hub:
        return ()
    parts = hub.split("/")
    repo = "/".join(parts[:2])
    names = ("/".join(parts[2:]),) if len(parts) > 2 else HUB_WEIGHT_FILES
    return (HubFile(repo, names),)


def how_to_provide(model: str, pretrained: str, hub: tuple[HubFile, ...]) -> str:
    """Advice for a user whose CLIP weights are missing."""
    where = (
        f"download `{hub[0].repo_id}` (file {hub[0].filenames[0]}) into the Hugging Face cache on a machine "
        f"with network (`hf download {hub[0].repo_id} {hub[0].filenames[0]}`), then copy the cache (HF_HOME) "
        "to the workers; or "
        if hub
        else ""
    )
    return (
        f"{where}set `weights.path` to an OpenCLIP checkpoint for {model}/{pretrained} "
        "(a .safetensors file, a state-dict .bin/.pt, or a directory with open_clip_config.json)."
    )


def _dir_config(path: Path) -> dict[str, Any] | None:
    cfg = path / "open_clip_config.json"
    if path.is_dir() and cfg.is_file():
        return json.loads(cfg.read_text())  # type: ignore[no-any-return]
    return None


# Embedding widths of common OpenCLIP architectures (their model configs' ``embed_dim``).
KNOWN_EMBED_DIMS: dict[str, int] = {
    "RN50": 1024,
    "ViT-B-32": 512,
    "ViT-B-16": 512,
    "ViT-L-14": 768,
    "ViT-L-14-336": 768,
    "ViT-H-14": 1024,
    "ViT-g-14": 1024,
    "ViT-bigG-14": 1280,
}


def embed_dim(model: str, weights_path: str | None) -> int:
    """Embedding width of a CLIP model, from the local directory's config or the built-in one.

    Raises:
        ValueError: neither config knows the model.
    """
    if weights_path is not None:
        local = _dir_config(Path(weights_path).expanduser())
        if local is not None:
            return int(local["model_cfg"]["embed_dim"])
    # The output schema is needed at recipe validation and on every executor that builds the
    # stage, also where the model never runs (a skipped stage, a machine without torch): the
    # common architectures' widths are known, so importing open_clip (and torch) is left to the rest.
    if model in KNOWN_EMBED_DIMS:
        return KNOWN_EMBED_DIMS[model]
    open_clip = require("open_clip", "open_clip_torch")
    cfg = open_clip.get_model_config(model)
    if cfg is None:
        raise ConfigError(f"unknown OpenCLIP architecture {model!r}; known: {', '.join(open_clip.list_models()[:20])}, ...")
    return int(cfg["embed_dim"])


@dataclass
class ClipBundle:
    """A loaded CLIP model with its preprocessing and tokenizer."""

    model: Any
    preprocess: Any  # PIL image -> CHW float tensor
    tokenizer: Any  # list[str] -> LongTensor
    device: str
    dtype: str


def load_clip(model: str, pretrained: str, location: WeightsLocation, device: str, dtype: str) -> ClipBundle:
    """Build the model on ``device`` at ``dtype`` and load its weights safely."""
    open_clip = require("open_clip", "open_clip_torch")
    path = location.path
    precision = _PRECISION[dtype]
    if _dir_config(path) is not None:
        name = f"local-dir:{path}"
        net, _, preprocess = open_clip.create_model_and_transforms(
            name, device=device, precision=precision, weights_only=True, require_pretrained=True
        )
        tokenizer = open_clip.get_tokenizer(name)
    else:
        file = path if path.is_file() else _checkpoint_in(path)
        tag = open_clip.get_pretrained_cfg(model, pretrained) or {}
        net, _, preprocess = open_clip.create_model_and_transforms(
            model,
            pretrained=str(file),
            device=device,
            precision=precision,
            weights_only=True,
            force_quick_gelu=bool(tag.get("quick_gelu", False)),
            image_mean=tag.get("mean"),
            image_std=tag.get("std"),
            image_interpolation=tag.get("interpolation"),
            image_resize_mode=tag.get("resize_mode"),
            require_pretrained=True,
        )
        tokenizer = open_clip.get_tokenizer(model)
    net.eval()
    return ClipBundle(net, preprocess, tokenizer, device, dtype)


def _checkpoint_in(path: Path) -> Path:
    for name in (*HUB_WEIGHT_FILES, "model.safetensors", "pytorch_model.bin"):
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(f"no OpenCLIP checkpoint ({', '.join(HUB_WEIGHT_FILES)}) in {path}")
