"""Image payloads that do not decode (and one that does), shared by the unusable-input tests."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pyarrow as pa
from PIL import Image

from spark_mm.ops.base import OpParams
from spark_mm.ops.image_meta import ImgMetaParams
from spark_mm.ops.image_signals import ImgQualityFilterParams, ImgSignalsParams


def noise_jpeg(side: tuple[int, int] = (320, 240)) -> bytes:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, (side[1], side[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_bomb_header(side: int = 20_000) -> bytes:
    """A tiny PNG whose header claims side x side pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")


IMAGES = {
    "good": noise_jpeg(),
    "truncated": noise_jpeg()[: len(noise_jpeg()) // 2],
    "bomb": png_bomb_header(),
    "empty": b"",
    "garbage": b"GIF89a but not really an image at all",
    "null": None,
}
EXPECTED = {
    "good": (True, None),
    "truncated": (False, "decode_error"),
    "bomb": (False, "decode_error"),
    "empty": (False, "decode_error"),
    "garbage": (False, "decode_error"),
    "null": (False, "missing_input"),
}


def image_stage_ops() -> tuple[OpParams, ...]:
    """The z_image CPU stage: header metadata, one decode, the DataComp filter."""
    return (ImgMetaParams(), ImgSignalsParams(), ImgQualityFilterParams())


def image_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"sample_id": list(IMAGES), "image": pa.array(list(IMAGES.values()), pa.binary())}
    )
