"""One image extension per WebDataset export (``--image-format auto|keep|jpg|png|webp``).

HF ``datasets``' WebDataset loader infers one feature per member extension from the first samples
and refuses an archive whose samples carry different members (``a.jpg`` beside ``b.png``); the
``webdataset`` library does not mind. So by default (``auto``) the export has one image extension:
the most common of jpg, png and webp among the exported images (ties go to jpg, then png; see
:func:`majority_target`), and only the images of another extension are decoded once with Pillow and
re-encoded (JPEG and WebP at quality 95, alpha flattened on white for JPEG; PNG lossless). The
majority keeps its bytes as they are. ``jpg|png|webp`` names the target instead; ``keep`` keeps every
payload and its own extension (mixed extensions: the ``webdataset`` library reads them, HF does not).
The manifest records the policy (``image_format``), the extension chosen (``image_target``, null for
``keep``), the extensions written (``image_extensions``) and how many images were re-encoded
(``reencoded``). A payload Pillow cannot decode keeps no image member and is counted in
``reencode_failures``; curation queries normally keep decoded images only.

The Parquet shards store a binary ``image`` column as HF's Image feature (:func:`hf_image_batch`),
so ``load_dataset("parquet")`` gives images, not bytes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from enum import Enum

import pyarrow as pa


class ImageFormat(str, Enum):
    JPG = "jpg"
    PNG = "png"
    WEBP = "webp"


class ImagePolicy(str, Enum):
    """What ``--image-format`` asks for: ``auto`` (the majority's extension), ``keep``, or a named target."""

    AUTO = "auto"
    KEEP = "keep"
    JPG = "jpg"
    PNG = "png"
    WEBP = "webp"


def majority_target(counts: Mapping[str, int]) -> ImageFormat:
    """The most common of jpg, png and webp in ``counts`` (extension -> images); ties go to jpg, then png.

    Other extensions (gif, bmp, ...) are never a target: they are re-encoded to it.

    >>> majority_target({"png": 3, "jpg": 1, "webp": 2}).value, majority_target({"png": 2, "jpg": 2}).value, majority_target({"gif": 5}).value
    ('png', 'jpg', 'jpg')
    """
    return max(ImageFormat, key=lambda f: counts.get(f.value, 0))  # max keeps the first of equals: enum order is the tie rule


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
