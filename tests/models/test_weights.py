"""Weight resolution: local path, HF cache offline lookup, fail message, skip nulls, safe loading."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from spark_mm.errors import WeightsNotFound
from spark_mm.models.weights import HubFile, WeightsParams, load_state_dict, resolve
from spark_mm.ops.model_base import stage_requirements
from spark_mm.ops.model_clip import ImgClip, ImgClipParams
from spark_mm.ops.model_siglip import ImgSiglip2, ImgSiglip2Params
from tests.models.conftest import random_jpegs


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))


def test_fail_names_model_places_and_remedy(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ViT-L-14.safetensors"
    op = ImgClip(ImgClipParams(model="ViT-L-14", pretrained="openai", weights={"path": str(missing)}))
    with pytest.raises(WeightsNotFound) as info:
        op.preflight()
    msg = str(info.value)
    assert "open_clip:ViT-L-14/openai" in msg
    assert str(missing) in msg
    assert "timm/vit_large_patch14_clip_224.openai" in msg and str(tmp_path / "hf-cache") in msg
    assert "HF_HUB_OFFLINE is set" in msg
    assert "weights.path" in msg and "on_missing: skip" in msg


def test_skip_outputs_nulls_and_reports(tmp_path: Path) -> None:
    op = ImgSiglip2(ImgSiglip2Params(weights={"on_missing": "skip"}))
    assert op.skipped
    status = op.weights_status
    assert status is not None and not status.available and "google/siglip2-so400m-patch14-384" in status.message()
    result = op.apply(pa.RecordBatch.from_pydict({"image": random_jpegs(3)}))
    assert result.columns.schema.field("img_siglip2_emb").type == pa.list_(pa.float16(), 1152)
    assert result.columns.column(0).null_count == 3 and result.errors is None
    req = stage_requirements([op])
    assert req.gpu and req.skipped == ("img_siglip2@1",) and req.batch_size == 64


def test_stage_requirements_fail_policy_raises_before_work() -> None:
    op = ImgClip(ImgClipParams(model="ViT-B-32", pretrained="openai"))
    with pytest.raises(WeightsNotFound):
        stage_requirements([op])


def test_hf_cache_is_found_offline(tmp_path: Path) -> None:
    cache = tmp_path / "hf-cache" / "models--org--tiny"
    snap = cache / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text("abc123")
    (snap / "model.safetensors").write_bytes(b"weights")
    (snap / "config.json").write_text("{}")
    status = resolve("tiny", WeightsParams(), (HubFile("org/tiny", ("model.safetensors",), directory=True),))
    assert status.location is not None
    assert status.location.source == "hf_cache" and status.location.path == snap
    # a file-level lookup returns the file itself, digest is content-based
    file_status = resolve("tiny", WeightsParams(), (HubFile("org/tiny", ("missing.bin", "model.safetensors")),))
    assert file_status.location is not None and file_status.location.path.name == "model.safetensors"
    assert len(file_status.location.digest) == 64


def test_local_path_wins_and_digest_tracks_content(tmp_path: Path) -> None:
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"one")
    a = resolve("m", WeightsParams(path=str(f)))
    f.write_bytes(b"two!")
    b = resolve("m", WeightsParams(path=str(f)))
    assert a.location is not None and b.location is not None and a.location.source == "local"
    assert a.location.digest != b.location.digest


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pickled code ran",))


def test_unsafe_pickle_is_refused(tmp_path: Path) -> None:
    import torch

    bad = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "x": _Payload()}, str(bad))
    with pytest.raises(pickle.UnpicklingError):
        load_state_dict(bad)
    good = tmp_path / "ok.pt"
    torch.save({"state_dict": {"module.w": torch.ones(2)}}, str(good))
    state = load_state_dict(good)
    assert list(state) == ["w"] and np.allclose(state["w"].numpy(), 1.0)
