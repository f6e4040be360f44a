"""A model op whose library is not installed: ``skip`` skips it (the demo has no torch), ``fail`` raises."""

from __future__ import annotations

import pytest

from spark_mm.errors import MissingDependency
from spark_mm.ops.model_clip import ImgClip, ImgClipParams


class NoOpenClip(ImgClip):
    def resolve_weights(self):  # type: ignore[no-untyped-def]
        raise MissingDependency("open_clip is needed for model stages but is not installed: pip install open_clip_torch")


def test_missing_library_is_skipped_under_skip() -> None:
    op = NoOpenClip(ImgClipParams(weights={"on_missing": "skip"}))
    status = op.preflight()
    assert status.skipped and op.skipped
    assert "pip install open_clip_torch" in status.message()


def test_missing_library_raises_under_fail() -> None:
    with pytest.raises(MissingDependency, match="pip install open_clip_torch"):
        NoOpenClip(ImgClipParams()).preflight()


def test_known_clip_widths_match_open_clip_configs() -> None:
    open_clip = pytest.importorskip("open_clip")
    from spark_mm.models.clip import KNOWN_EMBED_DIMS

    for model, dim in KNOWN_EMBED_DIMS.items():
        assert open_clip.get_model_config(model)["embed_dim"] == dim, model
