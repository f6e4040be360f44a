"""vid_aesthetic on tiny random-weight models through the real loaders: an OpenCLIP local-dir model
with a 768-wide embedding (the aesthetic head's input) and a head state dict in the published
layout, on 1 s 64x48 videos made here; the score is checked against open_clip + the head's formula
per sampled frame, averaged; missing weights under on_missing: skip give null scores."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("av")

from spark_mm.errors import WeightsNotFound  # noqa: E402
from spark_mm.models.heads import AESTHETIC_DIMS  # noqa: E402
from spark_mm.ops.model_video_aesthetic import VidAesthetic, VidAestheticParams  # noqa: E402
from spark_mm.video.sampled_frames import sample_frames  # noqa: E402
from tests.models.conftest import TINY_CLIP_CFG  # noqa: E402
from tests.video_fixtures import GARBAGE, encode  # noqa: E402


@pytest.fixture(scope="module")
def clip768(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import open_clip
    import torch
    from safetensors.torch import save_file

    cfg = copy.deepcopy(TINY_CLIP_CFG)
    cfg["model_cfg"]["embed_dim"] = AESTHETIC_DIMS[0]
    d = tmp_path_factory.mktemp("tiny_clip_768")
    (d / "open_clip_config.json").write_text(json.dumps(cfg))
    torch.manual_seed(1)
    model = open_clip.create_model(f"local-dir:{d}")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "open_clip_model.safetensors"))
    return d


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    import torch

    rng = np.random.default_rng(3)
    state = {}
    for name, (i, o) in zip(["layers.0", "layers.2", "layers.4", "layers.6", "layers.7"], zip(AESTHETIC_DIMS[:-1], AESTHETIC_DIMS[1:])):
        state[f"{name}.weight"] = rng.normal(0, 1 / np.sqrt(i), (o, i)).astype(np.float32)
        state[f"{name}.bias"] = rng.normal(5.0 if name == "layers.7" else 0.0, 0.1, (o,)).astype(np.float32)
    path = tmp_path_factory.mktemp("aesthetic") / "sac+logos+ava1-l14-linearMSE.pth"
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, str(path))
    return path, state


def _reference(clip_dir: Path, state: dict[str, np.ndarray], video: bytes, n: int) -> float:
    import open_clip
    import torch
    from PIL import Image

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{clip_dir}")
    frames = sample_frames(video, None, None, n).images
    with torch.no_grad():
        emb = model.encode_image(torch.stack([preprocess(Image.fromarray(f)) for f in frames])).numpy().astype(np.float64)
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    for name in ["layers.0", "layers.2", "layers.4", "layers.6", "layers.7"]:  # linear layers, no activations
        x = x @ state[f"{name}.weight"].T.astype(np.float64) + state[f"{name}.bias"]
    return float(x[:, 0].mean())


def test_score_is_the_mean_head_score_of_uniform_frames(clip768: Path, head: tuple[Path, dict[str, np.ndarray]]) -> None:
    videos = [encode("mp4", frames=12, fps=12), encode("webm", frames=12, fps=12)]
    op = VidAesthetic(VidAestheticParams(weights={"path": str(clip768)}, head_weights={"path": str(head[0])}, batch_size=2, device="cpu"))
    result = op.apply(pa.RecordBatch.from_pydict({"payload": videos + [None, GARBAGE]}))
    got = result.columns.column("vid_aesthetic_score").to_pylist()
    for i, v in enumerate(videos):
        assert got[i] == pytest.approx(_reference(clip768, head[1], v, 3), abs=1e-3)
    assert got[2] is None and got[3] is None
    errors = result.errors.to_pylist() if result.errors is not None else [None] * 4
    assert errors[:3] == [None, None, None] and errors[3].startswith("decode_error")
    single = VidAesthetic(VidAestheticParams(weights={"path": str(clip768)}, head_weights={"path": str(head[0])}, frame_num=1, device="cpu"))
    one = single.apply(pa.RecordBatch.from_pydict({"payload": videos[:1]})).columns.column(0).to_pylist()[0]
    assert one == pytest.approx(_reference(clip768, head[1], videos[0], 1), abs=1e-3)


def test_missing_weights_skip_or_fail(clip768: Path, tmp_path: Path) -> None:
    absent = str(tmp_path / "nope.pth")
    skip = VidAesthetic(VidAestheticParams(weights={"path": str(clip768), "on_missing": "skip"}, head_weights={"path": absent}))
    assert skip.skipped
    out = skip.apply(pa.RecordBatch.from_pydict({"payload": [encode("mp4", frames=12)]})).columns
    assert out.column("vid_aesthetic_score").to_pylist() == [None]
    assert "weights=missing" in skip.fingerprint()
    fail = VidAesthetic(VidAestheticParams(weights={"path": str(tmp_path / "no_clip"), "allow_download": False}, head_weights={"path": absent}))
    with pytest.raises(WeightsNotFound, match="aesthetic head"):
        fail.preflight()
