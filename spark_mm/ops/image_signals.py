"""Image signal operators: one fused decode-once kernel, and a threshold filter over its signals.

``img_signals`` calls the Rust kernel ``img_signals`` (native/src/image/signals.rs), which decodes
each image once and computes only the requested groups; ``img_quality_filter`` decides keep/drop
from those signals plus ``img_meta``'s width/height. Units and sources are in each docstring and in
docs/image_signals.md.
"""

from __future__ import annotations

import enum
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from spark_mm import _native
from spark_mm.ops.base import Filter, FilterDecision, Operator, OpParams, OpResult
from spark_mm.ops.registry import register
from spark_mm.lake.identifiers import quote_identifier
from spark_mm.ops.thresholds import Bound, SignalExpr, Threshold, column

_ALWAYS = [
    pa.field("img_has_alpha", pa.bool_()),
    pa.field("img_aspect_ratio", pa.float32()),
]
# Written when a pixel group is on (the kernel decodes): the one column filters read to know an
# image really decoded, since the header-only columns survive a failed decode.
_DECODED = pa.field("img_decoded", pa.bool_())
_QUALITY = [
    pa.field("img_jpeg_quality", pa.int32()),
    pa.field("img_entropy_bits", pa.float32()),
    pa.field("img_blocking", pa.float32()),
]
_DEGRADATIONS = [
    pa.field("img_blur_laplacian_var", pa.float32()),
    pa.field("img_noise_sigma", pa.float32()),
    pa.field("img_color_cast", pa.float32()),
    pa.field("img_colorfulness", pa.float32()),
    pa.field("img_overexposed_frac", pa.float32()),
    pa.field("img_underexposed_frac", pa.float32()),
    pa.field("img_near_mono", pa.bool_()),
]
_HASHES = [
    pa.field("img_phash", pa.int64()),
    pa.field("img_dhash", pa.int64()),
    pa.field("img_ahash", pa.int64()),
    pa.field("img_whash", pa.int64()),
]


class ImgSignalsParams(OpParams):
    op: Literal["img_signals"] = "img_signals"
    image_column: str = "image"
    mode: Literal["fast", "exact"] = Field(
        "fast", description="fast: hashes from the reduced working plane (within 2 bits); exact: imagehash-exact hashes at full resolution"
    )
    quality: bool = Field(True, description="JPEG quality, entropy, blocking")
    degradations: bool = Field(True, description="blur, noise, colour cast, colourfulness, exposure, near-mono")
    hashes: bool = Field(True, description="pHash, dHash, aHash, wHash (int64)")
    working_side_px: int = Field(256, ge=8, description="shorter side of the working image for degradations")
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="largest encoded image decoded, bytes")
    max_pixels: int = Field(178_956_970, gt=0, description="largest width*height decoded (bomb guard)")
    time_budget_ms: int = Field(10_000, gt=0, description="wall-clock budget per image, checked between phases")
    near_mono_chroma_std: float = Field(4.0, ge=0, description="chroma std (8-bit units) below which near-mono")


@register
class ImgSignals(Operator[ImgSignalsParams]):
    """Decode-once technical image signals (Rust kernel ``img_signals``).

    Always: ``img_has_alpha``, ``img_aspect_ratio`` (long side / short side, >= 1), both from the
    header, so they survive a failed decode.

    ``img_decoded`` (with any pixel group on): true when the whole image decoded and every
    requested signal was computed; false when a payload is present but did not (corrupt,
    truncated, empty, over ``max_bytes``/``max_pixels`` or ``time_budget_ms``); null when the
    payload is null. Filters read it (``decode_error``): a truncated JPEG has a valid header.

    ``quality``: ``img_jpeg_quality`` (IJG quality 1..100 inverted from the DQT tables, null for
    non-JPEG), ``img_entropy_bits`` (Shannon entropy of the luma histogram, 0..8 bits, at the
    working size), ``img_blocking`` (mean luma step across 8x8 block boundaries / mean step inside
    blocks − 1: ~0 for a clean photo, rising with JPEG compression).

    ``degradations`` (at the working size, shorter side ``working_side_px``; colour statistics on
    the box-reduced image):
    ``img_blur_laplacian_var`` (variance of the 4-neighbour Laplacian, grey levels²; Pech-Pacheco
    et al. 2000), ``img_noise_sigma`` (Immerkær 1996, grey levels), ``img_color_cast`` (mean
    BT.601 chroma offset, 8-bit units), ``img_colorfulness`` (Hasler & Süsstrunk 2003),
    ``img_overexposed_frac`` (luma >= 250), ``img_underexposed_frac`` (luma <= 5),
    ``img_near_mono`` (chroma std < ``near_mono_chroma_std``).

    ``hashes``: ``img_phash``/``img_dhash``/``img_ahash``/``img_whash`` — 64-bit hashes equal to
    ``int(str(imagehash.<x>hash(ImageOps.exif_transpose(img))), 16)`` reinterpreted as signed
    int64 (``mode="exact"``: bit-exact on the tested photos; ``"fast"``: within 2 bits, see
    docs/image_signals.md). pHash bands for dedup come from ``phash_band_keys``.

    Per-row failures (corrupt, truncated, too large, over time budget) leave the signals null
    and put the message in the row's error.
    """

    name = "img_signals"
    version = "3"
    Params = ImgSignalsParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.image_column,)

    @property
    def output_schema(self) -> pa.Schema:
        p = self.params
        fields = list(_ALWAYS)
        fields += [_DECODED] if (p.quality or p.degradations or p.hashes) else []
        fields += _QUALITY if p.quality else []
        fields += _DEGRADATIONS if p.degradations else []
        fields += _HASHES if p.hashes else []
        return pa.schema(fields)

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        p = self.params
        out = pa.array(
            _native.img_signals(
                batch.column(p.image_column),
                mode=p.mode,
                max_bytes=p.max_bytes,
                max_pixels=p.max_pixels,
                working_side_px=p.working_side_px,
                time_budget_ms=p.time_budget_ms,
                near_mono_chroma_std=p.near_mono_chroma_std,
                quality=p.quality,
                degradations=p.degradations,
                hashes=p.hashes,
            )
        )
        result = pa.RecordBatch.from_struct_array(out)
        errors = result.column("error")
        images = batch.column(p.image_column)
        # null payload -> null (missing), a kernel error on a payload -> False (did not decode)
        decoded = pc.if_else(images.is_null(), pa.scalar(None, pa.bool_()), errors.is_null())
        columns = pa.RecordBatch.from_arrays(
            [decoded if f.name == _DECODED.name else result.column(f.name) for f in self.output_schema],
            schema=self.output_schema,
        )
        return OpResult(columns=columns, errors=errors if errors.null_count < len(errors) else None)


class ImgQualityReason(str, enum.Enum):
    """Why ``img_quality_filter`` dropped an image: an unusable input first, then the first
    failing rule in this order."""

    DECODE_ERROR = "decode_error"  # from the Filter base class
    MISSING_INPUT = "missing_input"  # from the Filter base class
    TOO_SMALL = "too_small"
    ASPECT_RATIO = "aspect_ratio"
    LOW_ENTROPY = "low_entropy"
    BLOCKY = "blocky"
    BLURRY = "blurry"


class ImgQualityFilterParams(OpParams):
    op: Literal["img_quality_filter"] = "img_quality_filter"
    min_side_px: int | None = Field(200, ge=1, description="DataComp: drop if the shorter side < 200 px")
    max_aspect_ratio: float | None = Field(3.0, ge=1.0, description="DataComp: drop if long/short side > 3")
    min_entropy_bits: float | None = Field(None, ge=0.0, le=8.0, description="drop near-blank images")
    max_blocking: float | None = Field(None, ge=0.0, description="drop heavily block-compressed images")
    min_blur_laplacian_var: float | None = Field(None, ge=0.0, description="drop blurry images")
    width_column: str = "img_width"
    height_column: str = "img_height"
    decoded_column: str = Field(
        "img_decoded", description="img_signals' full-decode flag: an image that does not decode is never kept"
    )

    def threshold_signals(self) -> dict[str, Threshold]:
        """Every rule's threshold has a stored signal; side and aspect ratio are derived from width/height."""
        w, h = (f"CAST({quote_identifier(c)} AS double)" for c in (self.width_column, self.height_column))
        dims = (self.width_column, self.height_column)
        short = SignalExpr("img_short_side_px", dims, f"least({w}, {h})")
        aspect = SignalExpr("img_side_ratio", dims, f"greatest({w}, {h}) / greatest(least({w}, {h}), 1.0)")
        candidates = {
            "min_side_px": Threshold(short, Bound.LOWER, integer=True, minimum=1),
            "max_aspect_ratio": Threshold(aspect, Bound.UPPER, minimum=1.0),
            "min_entropy_bits": Threshold(column("img_entropy_bits"), Bound.LOWER, minimum=0.0, maximum=8.0),
            "max_blocking": Threshold(column("img_blocking"), Bound.UPPER, minimum=0.0),
            "min_blur_laplacian_var": Threshold(column("img_blur_laplacian_var"), Bound.LOWER, minimum=0.0),
        }
        return {k: t for k, t in candidates.items() if getattr(self, k) is not None}


@register
class ImgQualityFilter(Filter[ImgQualityFilterParams]):
    """Keep/drop images by size, shape and technical quality; adds ``img_quality_filter_ok/_reason``.

    Unusable inputs first (decided by the Filter base class): ``decode_error`` when
    ``img_decoded`` is false (the payload is there but did not decode fully: corrupt, truncated,
    over the bomb guard or the time budget), ``missing_input`` when it or a needed signal is null
    (no payload). Then the rules (a ``None`` threshold disables its rule), in this order:

    - ``too_small``: shorter side < ``min_side_px`` (default 200, DataComp "basic filtering",
      Gadre et al. 2023, §3.4/App. of the DataComp paper: smaller side ≥ 200 px).
    - ``aspect_ratio``: long/short side > ``max_aspect_ratio`` (default 3, same DataComp rule).
    - ``low_entropy``: ``img_entropy_bits`` < ``min_entropy_bits`` (off by default: no published
      number; blank/flat images score < 2 bits, photos 6–7.8 on our test photos).
    - ``blocky``: ``img_blocking`` > ``max_blocking`` (off by default; on our JPEG ladder
      q=95 → ~0.0–0.1, q=10 → > 0.5; see docs/image_signals.md).
    - ``blurry``: ``img_blur_laplacian_var`` < ``min_blur_laplacian_var`` (off by default;
      the value depends on ``working_side_px``; calibrate on your data).

    Width and height come from ``img_meta`` (header only); ``img_decoded`` and the other
    signals from ``img_signals`` with a pixel group on, so a recipe must run both first (recipe
    validation names the missing column otherwise).
    """

    name = "img_quality_filter"
    version = "2"
    Params = ImgQualityFilterParams
    Reason = ImgQualityReason

    def _rules(self) -> list[tuple[ImgQualityReason, tuple[str, ...]]]:
        p = self.params
        rules: list[tuple[ImgQualityReason, tuple[str, ...]]] = []
        if p.min_side_px is not None:
            rules.append((ImgQualityReason.TOO_SMALL, (p.width_column, p.height_column)))
        if p.max_aspect_ratio is not None:
            rules.append((ImgQualityReason.ASPECT_RATIO, (p.width_column, p.height_column)))
        if p.min_entropy_bits is not None:
            rules.append((ImgQualityReason.LOW_ENTROPY, ("img_entropy_bits",)))
        if p.max_blocking is not None:
            rules.append((ImgQualityReason.BLOCKY, ("img_blocking",)))
        if p.min_blur_laplacian_var is not None:
            rules.append((ImgQualityReason.BLURRY, ("img_blur_laplacian_var",)))
        return rules

    @property
    def reads(self) -> tuple[str, ...]:
        cols: list[str] = [self.params.decoded_column]
        for _, needed in self._rules():
            cols += [c for c in needed if c not in cols]
        return tuple(cols)

    @property
    def decode_flags(self) -> tuple[str, ...]:
        return (self.params.decoded_column,)

    def _failed(self, reason: ImgQualityReason, batch: pa.RecordBatch) -> pa.Array:
        """Boolean array: True where the row breaks ``reason``'s rule (null where input is null)."""
        p = self.params
        if reason in (ImgQualityReason.TOO_SMALL, ImgQualityReason.ASPECT_RATIO):
            w = pc.cast(batch.column(p.width_column), pa.float64())
            h = pc.cast(batch.column(p.height_column), pa.float64())
            short, long = pc.min_element_wise(w, h), pc.max_element_wise(w, h)
            if reason is ImgQualityReason.TOO_SMALL:
                return pc.less(short, float(p.min_side_px))  # type: ignore[arg-type]
            return pc.greater(pc.divide(long, pc.max_element_wise(short, 1.0)), float(p.max_aspect_ratio))  # type: ignore[arg-type]
        if reason is ImgQualityReason.LOW_ENTROPY:
            return pc.less(batch.column("img_entropy_bits"), float(p.min_entropy_bits))  # type: ignore[arg-type]
        if reason is ImgQualityReason.BLOCKY:
            return pc.greater(batch.column("img_blocking"), float(p.max_blocking))  # type: ignore[arg-type]
        return pc.less(batch.column("img_blur_laplacian_var"), float(p.min_blur_laplacian_var))  # type: ignore[arg-type]

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        reason = pa.nulls(batch.num_rows, pa.string())
        # Walk rules last to first so the first failing rule wins.
        for r, _ in reversed(self._rules()):
            failed = self._failed(r, batch)
            reason = pc.if_else(pc.fill_null(failed, False), pa.scalar(r.value), reason)
        return FilterDecision(ok=reason.is_null(), reason=reason)
