"""Small heads over stored embeddings: the LAION aesthetic predictor and the AIGC classifier.

Both read an embedding column written by an earlier model op (CLIP ViT-L/14, SigLIP 2), so the
expensive image tower runs once per stage however many heads use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from spark_mm.errors import ConfigError
from spark_mm.models.runtime import require, torch_dtype
from spark_mm.models.weights import load_state_dict

AESTHETIC_DIMS = (768, 1024, 128, 64, 16, 1)
"""Layer widths of the LAION improved aesthetic predictor v2 (ViT-L/14 input)."""
AESTHETIC_DROPOUT = (0.2, 0.2, 0.1)


def embeddings_to_numpy(column: pa.Array | pa.ChunkedArray, dim: int) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Fixed-size-list embedding column -> ``(float32 (n, dim), valid (n,), errors)``.

    Null rows are invalid without an error (the op that produced them already reported why);
    a row of the wrong width is invalid with an error.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    out = np.zeros((n, dim), dtype=np.float32)
    valid = np.zeros(n, dtype=bool)
    errors: list[str | None] = [None] * n
    if pa.types.is_fixed_size_list(column.type):
        if column.type.list_size != dim:
            return out, valid, [f"embedding has {column.type.list_size} dims, expected {dim}" if v else None for v in column.is_valid().to_pylist()]
        flat = column.values.slice(column.offset * dim, n * dim)  # child values, null slots included
        values = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(n, dim)
        mask = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        out[mask] = values[mask]
        valid = mask
        return out, valid, errors
    for i, v in enumerate(column.to_pylist()):  # variable-size lists: check each row
        if v is None:
            continue
        if len(v) != dim:
            errors[i] = f"embedding has {len(v)} dims, expected {dim}"
            continue
        out[i] = v
        valid[i] = True
    return out, valid, errors


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (zero rows stay zero).

    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def aesthetic_mlp() -> Any:
    """The aesthetic predictor's architecture (LAION improved-aesthetic-predictor v2).

    Five linear layers 768→1024→128→64→16→1 with dropout after the first three, no activations;
    module names ``layers.{0,2,4,6,7}`` match the published state dict. Returned in eval mode.
    """
    nn = require("torch").nn
    d = AESTHETIC_DIMS
    p = AESTHETIC_DROPOUT

    class AestheticMLP(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(d[0], d[1]), nn.Dropout(p[0]),
                nn.Linear(d[1], d[2]), nn.Dropout(p[1]),
                nn.Linear(d[2], d[3]), nn.Dropout(p[2]),
                nn.Linear(d[3], d[4]),
                nn.Linear(d[4], d[5]),
            )  # fmt: skip

        def forward(self, x: Any) -> Any:
            return self.layers(x)

    return AestheticMLP().eval()


@dataclass
class TorchHead:
    """A loaded head module on its device."""

    module: Any
    device: str
    dtype: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        torch = require("torch")
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device, dtype=torch_dtype(self.dtype))
            return self.module(t).float().cpu().numpy()  # type: ignore[no-any-return]


def load_aesthetic(path: Path, device: str, dtype: str) -> TorchHead:
    """Load the aesthetic MLP from a state-dict file (``.pth`` via weights_only, or safetensors)."""
    module = aesthetic_mlp()
    module.load_state_dict(load_state_dict(path), strict=True)
    module.to(device, dtype=torch_dtype(dtype)).eval()
    return TorchHead(module, device, dtype)


def aigc_head(in_dim: int, hidden: int) -> Any:
    """Binary classifier over an embedding: logistic regression (``hidden=0``) or one hidden layer."""
    nn = require("torch").nn
    if hidden == 0:
        return nn.Sequential(nn.Linear(in_dim, 1))
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, 1))


AIGC_FORMAT = "spark-mm.aigc-head.v1"


def read_aigc_metadata(path: Path) -> dict[str, str]:
    """The metadata a trained AIGC head file carries (format, in_dim, hidden, metrics)."""
    safetensors = require("safetensors")
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    if meta.get("format") != AIGC_FORMAT:
        raise ConfigError(f"{path} is not an AIGC head written by spark_mm.models.aigc_train (format={meta.get('format')!r})")
    return meta


def load_aigc(path: Path, device: str, dtype: str) -> TorchHead:
    """Load an AIGC head written by ``spark_mm.models.aigc_train.train`` (safetensors only)."""
    meta = read_aigc_metadata(path)
    module = aigc_head(int(meta["in_dim"]), int(meta["hidden"]))
    module.load_state_dict(load_state_dict(path), strict=True)
    module.to(device, dtype=torch_dtype(dtype)).eval()
    return TorchHead(module, device, dtype)
