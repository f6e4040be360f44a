"""Operator and stage fingerprints on real operators, without Spark: which params count, and weights."""

from __future__ import annotations

from spark_mm.engine.fingerprint import stage_fingerprint
from spark_mm.ops.image_meta import ImgMetaParams
from spark_mm.ops.image_signals import ImgQualityFilter, ImgQualityFilterParams
from spark_mm.ops.model_aesthetic import ImgAestheticParams
from spark_mm.ops.registry import build


def test_value_changing_params_change_the_fingerprint() -> None:
    base = build(ImgQualityFilterParams(op="img_quality_filter", min_side_px=200)).fingerprint()
    assert base.startswith(f"img_quality_filter@{ImgQualityFilter.version} {{") and '"min_side_px":200' in base and '"op"' not in base
    assert build(ImgQualityFilterParams(op="img_quality_filter", min_side_px=120)).fingerprint() != base
    assert build(ImgQualityFilterParams(op="img_quality_filter", min_side_px=200)).fingerprint() == base


def test_execution_only_params_do_not(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = {"path": str(tmp_path / "none.safetensors"), "on_missing": "skip", "allow_download": False}
    a = build(ImgAestheticParams(op="img_aesthetic", weights=missing, batch_size=8, device="cpu", decode_threads=1))
    b = build(ImgAestheticParams(op="img_aesthetic", weights={**missing, "allow_download": True}, batch_size=512, prefetch_batches=4))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint().endswith(" weights=missing")  # skipped: rows become stale once weights exist
    assert "batch_size" not in a.fingerprint() and "weights" not in a.fingerprint().split(" weights=")[0]


def test_found_weights_are_identified_by_digest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    head = tmp_path / "aesthetic.safetensors"
    head.write_bytes(b"not really a head")
    op = build(ImgAestheticParams(op="img_aesthetic", weights={"path": str(head), "on_missing": "skip"}))
    status = op.preflight()
    assert status.location is not None
    assert op.fingerprint().endswith(f" weights={status.location.digest}") and len(status.location.digest) == 64


def test_stage_fingerprint_covers_order_and_upstream() -> None:
    meta = build(ImgMetaParams(op="img_meta")).fingerprint()
    quality = build(ImgQualityFilterParams(op="img_quality_filter")).fingerprint()
    one = stage_fingerprint([meta, quality], {})
    assert one.digest != stage_fingerprint([quality, meta], {}).digest
    assert one.digest != stage_fingerprint([meta, quality], {"signals_image_cpu": one.digest}).digest
    assert one.describe() == f"{meta}; {quality}"
