"""Tiny random-weight models written to disk in the layouts real checkpoints use.

The CLIP directory follows the open_clip hub layout (``open_clip_config.json`` +
``open_clip_model.safetensors``); the SigLIP 2 directory is what ``save_pretrained`` writes. The
operators therefore run their real loading code, only on small architectures.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")

from spark_mm.engine.model_cache import MODEL_CACHE  # noqa: E402

TINY_CLIP_CFG = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
    "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]},
}


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Iterator[None]:
    MODEL_CACHE.clear()
    yield
    MODEL_CACHE.clear()


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import open_clip
    import torch
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("tiny_clip")
    (d / "open_clip_config.json").write_text(json.dumps(TINY_CLIP_CFG))
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{d}")  # no weights in the folder yet: random init
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "open_clip_model.safetensors"))
    return d


@pytest.fixture(scope="session")
def tiny_siglip2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import Siglip2Config, Siglip2ImageProcessor, Siglip2Model

    d = tmp_path_factory.mktemp("tiny_siglip2")
    cfg = Siglip2Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, patch_size=8, num_patches=16),
        text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, vocab_size=100, max_position_embeddings=16, bos_token_id=1, eos_token_id=2, pad_token_id=0),
    )
    torch.manual_seed(0)
    Siglip2Model(cfg).save_pretrained(str(d))
    Siglip2ImageProcessor(patch_size=8, max_num_patches=16).save_pretrained(str(d))
    return d


def encode(array: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt)
    return buf.getvalue()


def random_jpegs(n: int, seed: int = 0) -> list[bytes]:
    """``n`` random images of varied sizes (so resize/crop paths differ per row)."""
    rng = np.random.default_rng(seed)
    return [encode(rng.integers(0, 255, (24 + 7 * i % 50, 30 + 11 * i % 40, 3), dtype=np.uint8)) for i in range(n)]


def skimage_photos() -> dict[str, bytes]:
    """scikit-image's CC0 colour photographs, PNG-encoded."""
    import skimage.data as data

    names = ["astronaut", "coffee", "chelsea", "rocket", "cat", "hubble_deep_field", "immunohistochemistry"]
    out = {}
    for name in names:
        arr = getattr(data, name)()
        out[name] = encode(arr, "PNG")
    return out
