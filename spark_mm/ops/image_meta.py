"""Image metadata operator: header-only dimensions, format, mode, EXIF orientation, size."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from spark_mm import _native
from spark_mm.ops.base import Operator, OpParams, OpResult
from spark_mm.ops.registry import register


class ImgMetaParams(OpParams):
    op: Literal["img_meta"] = "img_meta"
    image_column: str = "image"
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="largest encoded image accepted, bytes")
    max_pixels: int = Field(178_956_970, gt=0, description="largest width*height accepted (bomb guard)")


@register
class ImgMeta(Operator[ImgMetaParams]):
    """Header-only image metadata with a decode guard (Rust kernel ``img_meta``).

    Signals: ``img_width``/``img_height`` (px), ``img_format`` (jpeg/png/gif/webp/bmp/tiff),
    ``img_mode`` (Pillow mode names), ``img_channels``, ``img_exif_orientation`` (1..8),
    ``img_bytes`` (encoded size). Images over ``max_bytes`` or ``max_pixels`` get an error so no
    later stage decodes them; the default pixel limit is Pillow's decompression-bomb threshold.
    """

    name = "img_meta"
    version = "1"
    Params = ImgMetaParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.image_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field("img_width", pa.int32()),
                pa.field("img_height", pa.int32()),
                pa.field("img_format", pa.string()),
                pa.field("img_mode", pa.string()),
                pa.field("img_channels", pa.uint8()),
                pa.field("img_exif_orientation", pa.uint8()),
                pa.field("img_bytes", pa.int64()),
            ]
        )

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        images = batch.column(self.params.image_column)
        out = pa.array(
            _native.img_meta(images, max_bytes=self.params.max_bytes, max_pixels=self.params.max_pixels)
        )
        result = pa.RecordBatch.from_struct_array(out)
        errors = result.column("error")
        columns = result.drop_columns(["error"])
        return OpResult(columns=columns, errors=errors if errors.null_count < len(errors) else None)
