"""Aesthetic predictor against its formula in numpy; AIGC head training and scoring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from spark_mm.errors import RecipeError
from spark_mm.models.aigc_train import train
from spark_mm.models.heads import AESTHETIC_DIMS, embeddings_to_numpy, read_aigc_metadata
from spark_mm.ops.model_aesthetic import ImgAesthetic, ImgAestheticParams
from spark_mm.ops.model_aigc import ImgAigc, ImgAigcParams


def _fsl(x: np.ndarray, valid: list[bool] | None = None, dtype: pa.DataType = pa.float16()) -> pa.Array:
    mask = None if valid is None else pa.array([not v for v in valid])
    return pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), type=dtype), x.shape[1], mask=mask)


@pytest.fixture(scope="module")
def aesthetic_pth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A state dict in the published file's layout (``layers.{0,2,4,6,7}``), saved with torch.save."""
    import torch

    rng = np.random.default_rng(7)
    names = ["layers.0", "layers.2", "layers.4", "layers.6", "layers.7"]
    state = {}
    for name, (i, o) in zip(names, zip(AESTHETIC_DIMS[:-1], AESTHETIC_DIMS[1:])):
        state[f"{name}.weight"] = rng.normal(0, 1 / np.sqrt(i), (o, i)).astype(np.float32)
        state[f"{name}.bias"] = rng.normal(0, 0.1, (o,)).astype(np.float32)
    path = tmp_path_factory.mktemp("aesthetic") / "sac+logos+ava1-l14-linearMSE.pth"
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, str(path))
    return path, state


def test_aesthetic_matches_reference_formula(aesthetic_pth: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, w = aesthetic_pth
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(6, 768)).astype(np.float32)
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    emb16 = raw.astype(np.float16)  # what img_clip stores
    col = _fsl(emb16, [True, True, False, True, True, True])
    op = ImgAesthetic(ImgAestheticParams(weights={"path": str(path)}, batch_size=4))
    got = op.apply(pa.RecordBatch.from_arrays([col], names=["img_clip_emb"])).columns.column(0).to_pylist()

    # reference: normalise, then five affine layers, no activations (dropout is identity in eval)
    x = emb16.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for name in ["layers.0", "layers.2", "layers.4", "layers.6", "layers.7"]:
        x = x @ w[f"{name}.weight"].T.astype(np.float64) + w[f"{name}.bias"]
    expect = x[:, 0]
    assert got[2] is None
    np.testing.assert_allclose([g for i, g in enumerate(got) if i != 2], np.delete(expect, 2), rtol=1e-4, atol=1e-4)


def test_aesthetic_rejects_wrong_width_per_row(aesthetic_pth: tuple[Path, dict[str, np.ndarray]]) -> None:
    op = ImgAesthetic(ImgAestheticParams(weights={"path": str(aesthetic_pth[0])}))
    col = _fsl(np.ones((2, 512), np.float32))
    result = op.apply(pa.RecordBatch.from_arrays([col], names=["img_clip_emb"]))
    assert result.columns.column(0).null_count == 2
    assert result.errors is not None and result.errors.to_pylist() == ["embedding has 512 dims, expected 768"] * 2


def test_embeddings_to_numpy_handles_sliced_arrays_with_nulls() -> None:
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    col = _fsl(x, [True, False, True, True, False, True], pa.float32()).slice(2, 3)
    values, valid, errors = embeddings_to_numpy(col, 2)
    assert valid.tolist() == [True, True, False]
    np.testing.assert_array_equal(values[:2], x[2:4])
    assert errors == [None, None, None]


def _separable(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    direction = np.random.default_rng(1234).normal(size=dim)  # the same concept in every split
    x = rng.normal(size=(n, dim)) + np.outer(np.where(y == 1, 3.0, -3.0), direction / np.linalg.norm(direction))
    return x.astype(np.float32), y


def test_aigc_train_then_score(tmp_path: Path) -> None:
    x, y = _separable(400, 48, seed=1)
    path = train(x, y, tmp_path / "head.safetensors", hidden=32, epochs=100, seed=0)
    meta = read_aigc_metadata(path)
    assert meta["in_dim"] == "48" and meta["hidden"] == "32"
    assert json.loads(meta["metrics"])["val_accuracy"] > 0.9

    xt, yt = _separable(200, 48, seed=2)
    col = _fsl(xt.astype(np.float16))
    op = ImgAigc(ImgAigcParams(weights={"path": str(path)}, embed_dim=48, batch_size=64))
    scores = np.array(op.apply(pa.RecordBatch.from_arrays([col], names=["img_siglip2_emb"])).columns.column(0).to_pylist())
    assert ((scores >= 0) & (scores <= 1)).all()
    assert ((scores > 0.5) == (yt == 1)).mean() > 0.9


def test_aigc_train_input_checks(tmp_path: Path) -> None:
    x, _ = _separable(10, 4, seed=0)
    with pytest.raises(ValueError, match="single class"):
        train(x, np.zeros(10), tmp_path / "h.safetensors")
    with pytest.raises(ValueError, match="0 \\(real\\) or 1"):
        train(x, np.full(10, 2), tmp_path / "h.safetensors")
    with pytest.raises(ValueError, match="one label per row"):
        train(x, np.zeros(9), tmp_path / "h.safetensors")


def test_aigc_head_width_mismatch_fails_at_preflight(tmp_path: Path) -> None:
    x, y = _separable(40, 8, seed=0)
    path = train(x, y, tmp_path / "head.safetensors", hidden=0, epochs=2)
    with pytest.raises(RecipeError, match="trained on 8-dim"):
        ImgAigc(ImgAigcParams(weights={"path": str(path)}, embed_dim=1152)).preflight()
