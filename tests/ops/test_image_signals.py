"""img_signals / img_quality_filter on pyarrow RecordBatches (no Spark)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image, ImageFilter, ImageOps

from spark_mm.ops.base import OpParams
from spark_mm.ops.image_meta import ImgMeta, ImgMetaParams
from spark_mm.ops.image_signals import (
    ImgQualityFilter,
    ImgQualityFilterParams,
    ImgQualityReason,
    ImgSignals,
    ImgSignalsParams,
)
from spark_mm.ops.registry import operators
from tests.ops.bad_images import png_bomb_header


def _photo() -> Image.Image:
    import skimage.data

    return Image.fromarray(skimage.data.astronaut())


def _encode(im: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _signals(payloads: list[bytes | None], **params: object) -> pa.RecordBatch:
    op = ImgSignals(ImgSignalsParams(**params))  # type: ignore[arg-type]
    batch = pa.RecordBatch.from_pydict({"image": pa.array(payloads, pa.binary())})
    res = op.apply(batch)
    cols = res.columns
    errors = res.errors if res.errors is not None else pa.nulls(batch.num_rows, pa.string())
    return pa.RecordBatch.from_arrays(list(cols.columns) + [errors], names=cols.schema.names + ["error"])


def _hamming(a: int, b: int) -> int:
    return bin((a ^ b) & (2**64 - 1)).count("1")


def test_registered_and_schema_follows_groups() -> None:
    assert {"img_signals", "img_quality_filter"} <= set(operators())
    full = ImgSignals(ImgSignalsParams()).output_schema.names
    assert "img_phash" in full and "img_blur_laplacian_var" in full and "img_jpeg_quality" in full
    only_hash = ImgSignals(ImgSignalsParams(quality=False, degradations=False)).output_schema.names
    assert only_hash == ["img_has_alpha", "img_aspect_ratio", "img_decoded"] + [
        f"img_{k}hash" for k in "pdaw"
    ]
    header_only = ImgSignals(ImgSignalsParams(quality=False, degradations=False, hashes=False)).output_schema.names
    assert header_only == ["img_has_alpha", "img_aspect_ratio"]  # nothing decoded: no decode flag
    with pytest.raises(ValueError):
        ImgSignalsParams(mode="turbo")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ImgSignalsParams(bogus=1)  # type: ignore[call-arg]


def test_blur_ladder_is_monotone() -> None:
    im = _photo()
    payloads = [_encode(im.filter(ImageFilter.GaussianBlur(r))) for r in (0, 1, 2, 4, 8)]
    out = _signals(payloads, hashes=False)
    blur = out.column("img_blur_laplacian_var").to_pylist()
    assert all(a > b for a, b in zip(blur, blur[1:])), blur


def test_falling_jpeg_quality_raises_blocking_and_lowers_estimate() -> None:
    im = _photo()
    qualities = [95, 75, 50, 25, 10]
    for mode in ("exact", "fast"):
        out = _signals([_encode(im, "JPEG", quality=q) for q in qualities], hashes=False, mode=mode)
        est = out.column("img_jpeg_quality").to_pylist()
        assert est == qualities  # Pillow writes IJG tables: the inversion is exact
        blocking = out.column("img_blocking").to_pylist()
        assert all(a < b for a, b in zip(blocking, blocking[1:])), (mode, blocking)
    clean = _signals([_encode(im)], hashes=False).column("img_blocking")[0].as_py()
    assert abs(clean) < 0.1
    assert _signals([_encode(im)]).column("img_jpeg_quality")[0].as_py() is None


def test_reencodes_keep_hashes_within_two_bits() -> None:
    im = _photo()
    variants = [_encode(im), _encode(im, "JPEG", quality=90), _encode(im, "WEBP", quality=90), _encode(im, "BMP")]
    for mode in ("exact", "fast"):
        out = _signals(variants, mode=mode)
        for k in "pdaw":
            h = out.column(f"img_{k}hash").to_pylist()
            assert max(_hamming(h[0], x) for x in h[1:]) <= 2, (mode, k, h)


def test_colour_and_exposure_signals() -> None:
    rgb = np.asarray(_photo())
    gray = Image.fromarray(rgb).convert("L").convert("RGB")
    tinted = Image.fromarray(np.clip(rgb.astype(int) + [40, 0, -40], 0, 255).astype(np.uint8))
    white = Image.new("RGB", (300, 300), (255, 255, 255))
    dark = Image.new("RGB", (300, 300), (2, 2, 2))
    out = _signals([_encode(Image.fromarray(rgb)), _encode(gray), _encode(tinted), _encode(white), _encode(dark)])
    mono = out.column("img_near_mono").to_pylist()
    assert mono[:3] == [False, True, False]
    cast = out.column("img_color_cast").to_pylist()
    assert cast[2] > cast[0] + 10 and cast[1] < 1
    colorful = out.column("img_colorfulness").to_pylist()
    assert colorful[0] > 20 and colorful[1] < 1
    assert out.column("img_overexposed_frac").to_pylist()[3] == 1.0
    assert out.column("img_underexposed_frac").to_pylist()[4] == 1.0
    ent = out.column("img_entropy_bits").to_pylist()
    assert ent[3] == 0.0 and ent[0] > 6
    noise = out.column("img_noise_sigma").to_pylist()
    noisy = np.clip(rgb + np.random.default_rng(0).normal(0, 20, rgb.shape), 0, 255).astype(np.uint8)
    assert _signals([_encode(Image.fromarray(noisy))]).column("img_noise_sigma")[0].as_py() > noise[0] + 3


def test_alpha_aspect_orientation_and_bad_rows() -> None:
    im = _photo().resize((300, 100))
    rgba = im.convert("RGBA")
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = _encode(im, "JPEG", quality=95, exif=exif.tobytes())
    out = _signals([_encode(rgba), rotated, None, b"not an image", _encode(im, "JPEG")[:500]])
    assert out.column("img_has_alpha").to_pylist()[:2] == [True, False]
    assert out.column("img_aspect_ratio").to_pylist()[0] == pytest.approx(3.0)
    err = out.column("error").to_pylist()
    assert err[0] is None and err[1] is None
    assert err[2] == "null image payload" and "unrecognised" in err[3] and err[4]
    assert out.column("img_phash").to_pylist()[2:] == [None, None, None]
    # EXIF orientation 6 is applied before hashing: same hash as the upright image.
    upright = _signals([_encode(im.transpose(Image.Transpose.ROTATE_270), "JPEG", quality=95)])
    assert _hamming(out.column("img_phash")[1].as_py(), upright.column("img_phash")[0].as_py()) <= 2


def test_guards_and_bad_params() -> None:
    small = _encode(_photo())
    out = _signals([small], max_pixels=1000)
    assert "decompression-bomb" in out.column("error")[0].as_py()
    assert out.column("img_aspect_ratio")[0].as_py() == 1.0  # header extras survive the guard
    with pytest.raises(ValueError):
        ImgSignalsParams(working_side_px=2)


def _filter_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "img_width": pa.array([640, 150, 1000, 640, 640, 640, 640, None, 640, 640], pa.int32()),
            "img_height": pa.array([480, 400, 300, 480, 480, 480, 480, None, 480, 480], pa.int32()),
            "img_decoded": pa.array([True, True, True, True, True, True, True, None, False, None], pa.bool_()),
            "img_entropy_bits": pa.array([7.0, 7.0, 7.0, 1.0, 7.0, 7.0, None, 7.0, None, 7.0], pa.float32()),
            "img_blocking": pa.array([0.05, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, None, 0.0], pa.float32()),
            "img_blur_laplacian_var": pa.array([500, 500, 500, 500, 500, 3, 500, 500, None, 500], pa.float32()),
        }
    )


def test_quality_filter_every_reason_code() -> None:
    f = ImgQualityFilter(
        ImgQualityFilterParams(min_entropy_bits=3.0, max_blocking=0.5, min_blur_laplacian_var=50.0)
    )
    res = f.apply(_filter_batch())
    ok = res.columns.column("img_quality_filter_ok").to_pylist()
    reason = res.columns.column("img_quality_filter_reason").to_pylist()
    assert ok == [True] + [False] * 9  # an unusable row is never kept, never undecided
    assert reason == [None, "too_small", "aspect_ratio", "low_entropy", "blocky", "blurry",
                      "missing_input", "missing_input", "decode_error", "missing_input"]
    assert {r.value for r in ImgQualityReason} == set(reason) - {None}
    assert res.errors is None  # the operator that failed upstream holds the error, not the filter


def test_quality_filter_defaults_are_datacomp_and_read_a_real_decode() -> None:
    f = ImgQualityFilter(ImgQualityFilterParams())
    assert f.reads == ("img_decoded", "img_width", "img_height")
    batch = _filter_batch().select(["img_width", "img_height", "img_decoded"])
    reason = f.apply(batch).columns.column("img_quality_filter_reason").to_pylist()
    assert reason[:3] == [None, "too_small", "aspect_ratio"]
    assert reason[6:] == [None, "missing_input", "decode_error", "missing_input"]
    assert isinstance(ImgQualityFilterParams(), OpParams)


def test_a_filter_without_the_base_reasons_fails_at_construction() -> None:
    import enum

    from spark_mm.errors import OperatorContractError

    class Only(str, enum.Enum):
        TOO_SMALL = "too_small"

    class Forgetful(ImgQualityFilter):
        Reason = Only

    with pytest.raises(OperatorContractError, match=r"lacks \['decode_error', 'missing_input'\]"):
        Forgetful(ImgQualityFilterParams())
    header_only = _filter_batch().select(["img_width", "img_height"])  # img_signals never ran
    with pytest.raises(OperatorContractError, match=r"needs columns \['img_decoded'\]"):
        ImgQualityFilter(ImgQualityFilterParams()).apply(header_only)


def _jpeg(im: Image.Image, **kw: object) -> bytes:
    return _encode(im, "JPEG", **kw)


def test_signals_then_filter_end_to_end() -> None:
    im = _photo()
    good = _jpeg(im, quality=90)
    payloads = [good, _jpeg(im.resize((120, 120))), b"junk", good[: len(good) // 2], png_bomb_header(), b"", None]
    batch = pa.RecordBatch.from_pydict({"image": pa.array(payloads, pa.binary())})
    meta = ImgMeta(ImgMetaParams()).apply(batch).columns
    assert meta.column("img_width").to_pylist()[3:5] == [512, 20_000]  # the headers alone look fine
    sig = ImgSignals(ImgSignalsParams()).apply(batch).columns
    assert sig.column("img_decoded").to_pylist() == [True, True, False, False, False, False, None]
    joined = pa.RecordBatch.from_arrays(
        list(meta.columns) + list(sig.columns), names=meta.schema.names + sig.schema.names
    )
    res = ImgQualityFilter(ImgQualityFilterParams(min_blur_laplacian_var=1.0)).apply(joined)
    assert res.columns.column("img_quality_filter_reason").to_pylist() == [
        None, "too_small", "decode_error", "decode_error", "decode_error", "decode_error", "missing_input"]
    assert res.columns.column("img_quality_filter_ok").to_pylist() == [True] + [False] * 6
    assert res.errors is None


# Broken metadata around intact pixel data: the image decodes (Pillow's pixels agree), so the
# row gets signals, not an error. invalid-exif.jpg: EXIF unreadable -> orientation 1 (Pillow
# too); png_decompression_dos.png: an oversized zTXt chunk Pillow refuses, the png crate skips.
INTACT_PIXELS = {"invalid-exif.jpg", "png_decompression_dos.png"}


def test_broken_files_are_errors_not_crashes(shared_data: Path) -> None:
    files = sorted((shared_data / "images" / "broken").iterdir())
    assert files
    payloads = [p.read_bytes() for p in files]
    for mode in ("fast", "exact"):
        out = _signals(payloads, mode=mode)
        assert out.num_rows == len(files)
        for path, err, phash in zip(files, out.column("error").to_pylist(), out.column("img_phash").to_pylist()):
            if path.name in INTACT_PIXELS:
                assert err is None and phash is not None, (path.name, err)
            else:
                assert err and phash is None, (mode, path.name, err)


def test_exif_orientation_matches_pillow_on_real_variant(shared_data: Path) -> None:
    path = shared_data / "images" / "variants" / "hopper_orientation_6.jpg"
    if not path.exists():
        pytest.skip("variant missing")
    import imagehash

    ref = int(str(imagehash.phash(ImageOps.exif_transpose(Image.open(path)))), 16)
    got = _signals([path.read_bytes()], mode="exact").column("img_phash")[0].as_py()
    assert _hamming(ref, got) == 0
