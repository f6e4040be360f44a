"""One image extension per WebDataset export, re-encoding only when asked (``--image-format``).

HF ``datasets``' WebDataset loader infers one feature per member extension from the first samples
and refuses an archive whose samples carry different members (``a.jpg`` beside ``b.png``); the
``webdataset`` library does not mind. By default images keep their bytes and their own extension,
and the manifest lists the extensions used (``image_extensions``): one means every loader reads it.
With ``--image-format jpg|png|webp`` each image whose extension differs is decoded once with Pillow
and re-encoded (JPEG and WebP at quality 95, alpha flattened on white for JPEG; PNG lossless), so
the export has exactly one extension. A payload Pillow cannot decode keeps no image member and is
counted in the manifest (``reencode_failures``); curation queries normally keep decoded images only.

The Parquet shards store a binary ``image`` column as HF's Image feature (:func:`hf_image_batch`),
so ``load_dataset("parquet")`` gives images, not bytes.
"""

from __future__ import annotations

import io
import json
from enum import Enum

import pyarrow as pa


class ImageFormat(str, Enum):
    JPG = "jpg"
    PNG = "png"
    WEBP = "webp"


_PIL_NAMES = {ImageFormat.JPG: "JPEG", ImageFormat.PNG: "PNG", ImageFormat.WEBP: "WEBP"}


def reencode(payload: bytes, target: ImageFormat) -> bytes | None:
    """``payload`` re-encoded as ``target``; None when Pillow cannot decode it (a per-record problem, not an exception).

    >>> import PIL.Image, io; buf = io.BytesIO(); PIL.Image.new("RGBA", (4, 3)).save(buf, "PNG")
    >>> reencode(buf.getvalue(), ImageFormat.JPG)[:3], reencode(b"not an image", ImageFormat.PNG)
    (b'\\xff\\xd8\\xff', None)
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(payload)) as img:
            img.load()
            if target is ImageFormat.JPG and img.mode not in ("RGB", "L"):
                rgba = img.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                img = flat
            out = io.BytesIO()
            options = {"quality": 95} if target is not ImageFormat.PNG else {}
            img.save(out, _PIL_NAMES[target], **options)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


HF_METADATA_KEY = b"huggingface"


def hf_image_batch(batch: pa.RecordBatch, column: str = "image") -> pa.RecordBatch:
    """``batch`` with a binary ``column`` stored as HF ``datasets``' Image feature: ``struct<bytes, path>`` plus schema metadata.

    ``datasets.load_dataset("parquet", ...)`` takes a column's feature from the ``huggingface``
    schema metadata only when the column's Arrow type is that feature's storage type, so the bytes
    move into the struct's ``bytes`` (``path`` null); DuckDB and pyarrow read ``image.bytes``.
    Other columns keep their types and get no metadata (``datasets`` infers them from Arrow).

    >>> b = hf_image_batch(pa.record_batch({"sample_id": ["a"], "image": pa.array([b"x"], pa.binary())}))
    >>> b.schema.field("image").type, b.column("image").field("bytes").to_pylist(), json.loads(b.schema.metadata[HF_METADATA_KEY])
    (StructType(struct<bytes: binary, path: string>), [b'x'], {'info': {'features': {'image': {'_type': 'Image'}}}})
    """
    idx = batch.schema.get_field_index(column)
    if idx < 0 or not pa.types.is_binary(batch.schema.field(idx).type):
        return batch
    raw = batch.column(idx)
    struct = pa.StructArray.from_arrays([raw, pa.nulls(len(raw), pa.string())], names=["bytes", "path"], mask=raw.is_null())
    columns = [struct if i == idx else c for i, c in enumerate(batch.columns)]
    fields = [pa.field(column, struct.type) if i == idx else f for i, f in enumerate(batch.schema)]
    meta = {**(batch.schema.metadata or {}), HF_METADATA_KEY: json.dumps({"info": {"features": {column: {"_type": "Image"}}}}).encode()}
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields, metadata=meta))
