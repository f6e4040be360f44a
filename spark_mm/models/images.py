"""Decode image bytes for model inputs (runs on the prefetch thread).

A row that cannot be decoded gets an error message instead of an exception, so a corrupt image
costs one null signal, never a task. Pillow's decompression-bomb guard stays on.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pyarrow as pa
from PIL import Image, ImageOps, UnidentifiedImageError

T = TypeVar("T")


def decode_rgb(data: bytes, exif_transpose: bool = True) -> Image.Image:
    """Decode encoded image bytes to an RGB Pillow image.

    Args:
        data: encoded image (JPEG, PNG, WebP, ...).
        exif_transpose: apply the EXIF orientation tag (what a viewer shows).

    Raises:
        OSError, ValueError, Image.DecompressionBombError: the bytes are not a decodable image.
    """
    img = Image.open(io.BytesIO(data))
    img.load()
    if exif_transpose:
        img = ImageOps.exif_transpose(img)
    if img.mode != "RGB":  # as the references do: a plain conversion, alpha dropped
        img = img.convert("RGB")
    return img


def map_images(
    column: pa.Array | pa.ChunkedArray,
    fn: Callable[[Image.Image], T],
    pool: ThreadPoolExecutor | None = None,
    exif_transpose: bool = True,
) -> tuple[list[T | None], list[str | None]]:
    """Decode every image of a binary column and apply ``fn`` (e.g. a model's preprocessing).

    Pillow releases the GIL while decoding and resizing, so a small thread pool scales the work.

    Returns:
        ``(values, errors)``: per row either a value and None, or None and an error message
        (``image: null`` for a null cell, ``image decode: ...`` for a bad one).
    """
    blobs: Sequence[bytes | None] = column.to_pylist()

    def one(blob: bytes | None) -> tuple[T | None, str | None]:
        if blob is None:
            return None, "image: null"
        try:
            return fn(decode_rgb(blob, exif_transpose)), None
        except UnidentifiedImageError:
            return None, "image decode: unrecognised image format"
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            return None, f"image decode: {type(exc).__name__}: {exc}"[:300]

    results = list(pool.map(one, blobs)) if pool is not None else [one(b) for b in blobs]
    return [r[0] for r in results], [r[1] for r in results]
