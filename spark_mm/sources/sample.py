"""The embedded demo dataset: real CC0 photos from scikit-image with realistic variants.

scikit-image's wheel ships a handful of CC0 photographs. From each we build the variants a web
crawl is full of (re-encodes at several JPEG qualities, WebP, resizes, crops, grayscale, a tiny
thumbnail, an exact byte copy) plus corrupt payloads (truncated, random, empty, a header-only
decompression bomb), and write them once to a Parquet file. Nothing third-party is committed.
"""

from __future__ import annotations

import io
import os
import random
import struct
import tempfile
import zlib
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spark_mm.errors import MissingDependency
from spark_mm.paths import home

# file in skimage/data → caption (written for CLIP-style image–text scoring)
PHOTOS: dict[str, str] = {
    "astronaut.png": "portrait of an astronaut in a white spacesuit in front of a flag",
    "chelsea.png": "a tabby cat looking to the side",
    "coffee.png": "a cup of coffee on a saucer",
    "rocket.jpg": "a rocket on the launch pad",
    "motorcycle_left.png": "a red motorcycle parked in a garage",
    "hubble_deep_field.jpg": "deep field image of distant galaxies from a space telescope",
    "retina.jpg": "fundus photograph of a human retina",
    "ihc.png": "microscope image of a stained tissue sample",
    "brick.png": "a grey brick wall",
    "grass.png": "close-up of green grass",
    "gravel.png": "close-up of gravel stones",
    "camera.png": "black and white photo of a man with a camera on a tripod",
    "coins.png": "old coins on a dark background",
    "moon.png": "surface of the moon",
    "page.png": "a scanned page of printed text",
}


def _load(name: str):  # type: ignore[no-untyped-def]
    try:
        from PIL import Image

        data = resources.files("skimage.data").joinpath(name).read_bytes()
    except ModuleNotFoundError as err:
        raise MissingDependency("the sample dataset needs scikit-image's photos: pip install scikit-image") from err
    img = Image.open(io.BytesIO(data))
    img.load()
    return data, img


def _encode(img, fmt: str, **kw) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    if fmt == "JPEG" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header claims width×height pixels (3.6 gigapixels by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def build_rows(seed: int = 0) -> list[dict[str, object]]:
    """All sample rows: key, variant, base photo, url, caption, image bytes (None for a null payload)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []

    def add(base: str, variant: str, payload: bytes | None, caption: str) -> None:
        key = f"{base}/{variant}"
        rows.append({"key": key, "base": base, "variant": variant, "url": f"https://sample.spark-mm.invalid/{key}", "caption": caption, "image": payload})

    for name, caption in PHOTOS.items():
        original, img = _load(name)
        base = name.rsplit(".", 1)[0]
        rgb = img.convert("RGB") if img.mode not in ("RGB", "L") else img
        w, h = rgb.size
        q95 = _encode(rgb, "JPEG", quality=95)
        add(base, "original", original, caption)
        add(base, "jpeg_q95", q95, caption)
        add(base, "jpeg_q95_copy", q95, caption)  # exact byte duplicate under another key
        add(base, "jpeg_q30", _encode(rgb, "JPEG", quality=30), caption)
        add(base, "webp_q80", _encode(rgb, "WEBP", quality=80), caption)
        add(base, "resize_half", _encode(rgb.resize((max(1, w // 2), max(1, h // 2))), "JPEG", quality=90), caption)
        cw, ch = int(w * 0.8), int(h * 0.8)
        left, top = (w - cw) // 2, (h - ch) // 2
        add(base, "crop_center80", _encode(rgb.crop((left, top, left + cw, top + ch)), "JPEG", quality=90), caption)
        add(base, "gray_png", _encode(rgb.convert("L"), "PNG"), caption)
        thumb = rgb.copy()
        thumb.thumbnail((64, 64))
        add(base, "thumb64", _encode(thumb, "JPEG", quality=85), caption)
        add(base, "banner_crop", _encode(rgb.crop((0, 0, w, max(1, h // 5))), "JPEG", quality=90), caption)

    _, coffee = _load("coffee.png")
    full = _encode(coffee.convert("RGB"), "JPEG", quality=90)
    add("corrupt", "truncated_jpeg", full[: len(full) * 2 // 5], "a cup of coffee on a saucer")
    add("corrupt", "random_bytes", bytes(rng.getrandbits(8) for _ in range(2048)), "noise")
    add("corrupt", "empty", b"", "nothing")
    add("corrupt", "null_payload", None, "nothing")
    add("corrupt", "png_bomb_header", _png_bomb(), "a decompression bomb")
    add("corrupt", "html_not_image", b"<!doctype html><html><body>404 not found</body></html>", "an error page")
    return rows


def sample_path(seed: int = 0) -> Path:
    """Where the demo data of ``seed`` lives: always under the project home (``<home>/sample/``)."""
    name = "images.parquet" if seed == 0 else f"images-seed{seed}.parquet"
    return home() / "sample" / name


def ensure_sample(seed: int = 0) -> Path:
    """Write the sample Parquet file under the project home if it is not there yet; return its path.

    The file is written to a hidden temporary name in the same directory and renamed into place,
    so a crash never leaves a partial file, and nothing is ever written outside ``<home>/sample/``.
    """
    target = sample_path(seed)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(
        build_rows(seed),
        schema=pa.schema([("key", pa.string()), ("base", pa.string()), ("variant", pa.string()), ("url", pa.string()), ("caption", pa.string()), ("image", pa.binary())]),
    )
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        pq.write_table(table, tmp, row_group_size=32)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
