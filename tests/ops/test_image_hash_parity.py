"""Perceptual-hash parity of the Rust kernel with the ``imagehash`` package on real photos.

Reference: ``imagehash.<x>hash(ImageOps.exif_transpose(Image.open(f)))`` — the kernel hashes the
displayed (EXIF-oriented) image. ``mode="exact"`` must match bit for bit except where the JPEG
decoder (zune-jpeg vs Pillow's libjpeg-turbo) rounds a pixel differently, which may move a bit
whose value sits on the median: at most 2 bits. ``mode="fast"`` must stay within 2 bits.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image, ImageOps

from spark_mm import _native

imagehash = pytest.importorskip("imagehash")
pytest.importorskip("pywt")

# Photographs shipped inside the scikit-image wheel (no download); synthetic patterns
# (checkerboard, binary_blobs) are excluded: their DCT has exact ties that scipy's FFT breaks
# with rounding noise, see docs/image_signals.md.
SKIMAGE_PHOTOS = (
    "astronaut", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
    "immunohistochemistry", "moon", "page", "retina", "rocket", "text", "brick", "clock", "horse",
    "logo", "microaneurysms", "colorwheel",
)  # fmt: skip

# Files in ../shared/data/images whose streams are themselves corrupt (libjpeg resynchronises
# differently from zune-jpeg); their hashes are not comparable.
CORRUPT_STREAMS = {"hopper_bad_exif.jpg"}

# Known fast-mode deviation: dHash of skimage's ``brick`` (a fine, near-periodic texture whose
# 9x8 neighbour differences sit on the threshold) moves 3 bits when computed from the
# box-reduced plane; exact mode matches bit for bit. Bounded here so any regression fails.
FAST_KNOWN = {("brick.png", "d"): 3, ("brick.jpeg", "d"): 3}


def _skimage_payloads() -> dict[str, bytes]:
    import skimage.data

    out: dict[str, bytes] = {}
    for name in SKIMAGE_PHOTOS:
        try:
            a = getattr(skimage.data, name)()
        except Exception:  # not shipped in this wheel (would need a download): skip it
            continue
        if a.dtype != np.uint8:
            continue
        im = Image.fromarray(a)
        for fmt, kw in (("PNG", {}), ("JPEG", {"quality": 90})):
            buf = io.BytesIO()
            (im if fmt == "PNG" else im.convert("RGB" if a.ndim == 3 else "L")).save(buf, format=fmt, **kw)
            out[f"{name}.{fmt.lower()}"] = buf.getvalue()
    return out


def _reference(payload: bytes) -> dict[str, int]:
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(payload)))
    return {
        "p": int(str(imagehash.phash(im)), 16),
        "d": int(str(imagehash.dhash(im)), 16),
        "a": int(str(imagehash.average_hash(im)), 16),
        "w": int(str(imagehash.whash(im)), 16),
    }


def _distances(payloads: dict[str, bytes], mode: str) -> dict[tuple[str, str], int]:
    names = list(payloads)
    out = pa.array(_native.img_signals(pa.array([payloads[n] for n in names], pa.binary()), mode=mode))
    rows = out.to_pylist()
    dist: dict[tuple[str, str], int] = {}
    for name, row in zip(names, rows):
        assert row["error"] is None, (name, row["error"])
        ref = _reference(payloads[name])
        for k in "pdaw":
            dist[(name, k)] = bin((row[f"img_{k}hash"] & (2**64 - 1)) ^ ref[k]).count("1")
    return dist


def _check(dist: dict[tuple[str, str], int], mode: str) -> None:
    allowed = FAST_KNOWN if mode == "fast" else {}
    worst = {key: d for key, d in dist.items() if d > allowed.get(key, 2)}
    assert not worst, f"{mode}: hashes more than 2 bits from imagehash: {worst}"
    if mode == "exact":
        exact = sum(1 for d in dist.values() if d == 0)
        assert exact >= 0.95 * len(dist), f"only {exact}/{len(dist)} bit-exact"


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_parity_on_skimage_photos(mode: str) -> None:
    payloads = _skimage_payloads()
    assert len(payloads) >= 20
    _check(_distances(payloads, mode), mode)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_parity_on_shared_photos(shared_data: Path, mode: str) -> None:
    files = sorted((shared_data / "images" / "photos").iterdir()) + sorted(
        (shared_data / "images" / "variants").iterdir()
    )
    payloads = {p.name: p.read_bytes() for p in files if p.name not in CORRUPT_STREAMS}
    _check(_distances(payloads, mode), mode)


def test_pil_luma_and_lanczos_are_reproduced_exactly() -> None:
    """The two building blocks, checked directly: grey conversion and resize are byte-exact."""
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, size=(97, 131, 3), dtype=np.uint8)
    im = Image.fromarray(rgb)
    # A PNG of random pixels makes every hash sensitive to any off-by-one in L or resize.
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    row = pa.array(_native.img_signals(pa.array([buf.getvalue()]), mode="exact")).to_pylist()[0]
    ref = _reference(buf.getvalue())
    for k in "pdaw":
        assert row[f"img_{k}hash"] & (2**64 - 1) == ref[k], k
