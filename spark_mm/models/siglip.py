"""SigLIP / SigLIP 2 image towers through transformers.

Both families load from a Hugging Face model directory (``config.json``, ``model.safetensors``,
``preprocessor_config.json``): the fixed-resolution SigLIP 2 checkpoints
(``google/siglip2-so400m-patch14-384``) use transformers' ``SiglipModel`` layout, the NaFlex ones
(``google/siglip2-so400m-patch16-naflex``) ``Siglip2Model``; ``AutoModel`` picks the class from the
config. Preprocessing is the checkpoint's own image processor. Weights load from safetensors only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_mm.errors import ConfigError
from spark_mm.models.runtime import require, torch_dtype
from spark_mm.models.weights import HubFile, WeightsLocation

# Image-embedding widths of published SigLIP 2 checkpoints, so a skipped stage still has a schema.
KNOWN_DIMS: dict[str, int] = {
    "google/siglip2-base-patch16-224": 768,
    "google/siglip2-base-patch16-256": 768,
    "google/siglip2-base-patch16-384": 768,
    "google/siglip2-base-patch16-512": 768,
    "google/siglip2-base-patch16-naflex": 768,
    "google/siglip2-large-patch16-256": 1024,
    "google/siglip2-large-patch16-384": 1024,
    "google/siglip2-large-patch16-512": 1024,
    "google/siglip2-so400m-patch14-224": 1152,
    "google/siglip2-so400m-patch14-384": 1152,
    "google/siglip2-so400m-patch16-256": 1152,
    "google/siglip2-so400m-patch16-384": 1152,
    "google/siglip2-so400m-patch16-512": 1152,
    "google/siglip2-so400m-patch16-naflex": 1152,
    "google/siglip2-giant-opt-patch16-256": 1536,
    "google/siglip2-giant-opt-patch16-384": 1536,
}


def hub_files(repo_id: str) -> tuple[HubFile, ...]:
    """The snapshot directory of ``repo_id`` (single-file or sharded safetensors)."""
    return (HubFile(repo_id, ("model.safetensors", "model.safetensors.index.json"), directory=True),)


def how_to_provide(repo_id: str) -> str:
    return (
        f"on a machine with network run `hf download {repo_id}` and copy the Hugging Face cache (HF_HOME) to "
        f"the workers, or set `weights.path` to a directory holding config.json, model.safetensors and "
        "preprocessor_config.json (what `save_pretrained` writes)."
    )


def embed_dim(repo_id: str, weights_path: str | None, configured: int | None) -> int:
    """Image-embedding width: configured value, else the local config, else the known table.

    Raises:
        ValueError: the width cannot be known without loading (set ``embed_dim`` in the step).
    """
    if configured is not None:
        return configured
    if weights_path is not None:
        cfg = Path(weights_path).expanduser() / "config.json"
        if cfg.is_file():
            data = json.loads(cfg.read_text())
            vision = data.get("vision_config", data)
            return int(vision["hidden_size"])
    if repo_id in KNOWN_DIMS:
        return KNOWN_DIMS[repo_id]
    raise ConfigError(f"embedding width of {repo_id!r} unknown: set `embed_dim` on the step")


@dataclass
class SiglipBundle:
    """A loaded SigLIP-family model with its image processor."""

    model: Any
    processor: Any
    device: str
    dtype: str


def load_siglip(location: WeightsLocation, device: str, dtype: str) -> SiglipBundle:
    """Load model and image processor from a model directory onto ``device`` at ``dtype``."""
    transformers = require("transformers")
    path = location.path if location.path.is_dir() else location.path.parent
    model = transformers.AutoModel.from_pretrained(str(path), dtype=torch_dtype(dtype), use_safetensors=True)
    model.to(device).eval()
    processor = transformers.AutoImageProcessor.from_pretrained(str(path))
    return SiglipBundle(model, processor, device, dtype)


def image_features(bundle: SiglipBundle, inputs: dict[str, Any]) -> Any:
    """Pooled image features (the vision tower's attention-pool head), not yet normalised."""
    torch = require("torch")
    moved = {
        k: v.to(bundle.device, dtype=torch_dtype(bundle.dtype) if v.is_floating_point() else None)
        for k, v in inputs.items()
    }
    with torch.inference_mode():
        out = bundle.model.get_image_features(**moved)
    return out if isinstance(out, torch.Tensor) else out.pooler_output
