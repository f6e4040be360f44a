"""Threshold ↔ signal declarations: the comparison each declares is the one its filter keeps with,
and k-sigma proposals round and clamp so that the keep set is the real-valued bound's."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

from spark_mm.ops import registry
from spark_mm.ops.image_signals import ImgQualityFilter, ImgQualityFilterParams
from spark_mm.ops.text_rules import TxtC4Params, TxtGopherQualityParams, TxtLengthParams
from spark_mm.ops.thresholds import Bound, Threshold, column


def _keeps(t: Threshold, value: float, x: float) -> bool:
    if t.bound is Bound.LOWER:
        return x > value if t.strict else x >= value
    return x < value if t.strict else x <= value


def test_img_quality_filter_keeps_what_its_thresholds_declare() -> None:
    params = ImgQualityFilterParams(min_side_px=200, max_aspect_ratio=2.0, min_entropy_bits=3.0)
    ts = params.threshold_signals()
    assert set(ts) == {"min_side_px", "max_aspect_ratio", "min_entropy_bits"}  # enabled rules only
    widths = [199, 200, 201, 400, 401, 300, 300]
    heights = [300, 300, 300, 200, 200, 300, 300]
    entropy = [5.0, 5.0, 5.0, 5.0, 5.0, 3.0, 2.999]
    batch = pa.RecordBatch.from_pydict({
        "img_decoded": [True] * 7, "img_width": widths, "img_height": heights,
        "img_entropy_bits": pa.array(entropy, pa.float32()),
    })
    ok = ImgQualityFilter(params).transform(batch).columns.column("img_quality_filter_ok").to_pylist()
    for i, (w, h, e) in enumerate(zip(widths, heights, entropy)):
        short, ratio = min(w, h), max(w, h) / max(min(w, h), 1)
        declared = (
            _keeps(ts["min_side_px"], 200, short)
            and _keeps(ts["max_aspect_ratio"], 2.0, ratio)
            and _keeps(ts["min_entropy_bits"], 3.0, float(np.float32(e)))
        )
        assert ok[i] == declared, (w, h, e)


def test_declared_signals_are_columns_their_operators_write() -> None:
    """Plain-column signals must be in some operator's output schema (else suggest could never find them)."""
    written = set()
    for cls in registry.operators().values():
        try:
            written |= set(registry.build(cls.Params()).output_schema.names)  # type: ignore[call-arg]
        except ValidationError:  # params without defaults (a required path)
            continue
    params = [ImgQualityFilterParams(min_entropy_bits=1.0, max_blocking=0.5, min_blur_laplacian_var=10.0),
              TxtGopherQualityParams(), TxtC4Params(), TxtLengthParams(min_chars=1, max_chars=9, min_words=1, max_words=9)]
    for p in params:
        for name, t in p.threshold_signals().items():
            assert set(t.signal.columns) <= written, (p.op, name, t.signal)
            assert t.bound is (Bound.LOWER if name.startswith("min_") else Bound.UPPER), name


def test_disabled_thresholds_are_not_proposed() -> None:
    assert ImgQualityFilterParams(min_side_px=None, max_aspect_ratio=None).threshold_signals() == {}
    assert TxtC4Params(min_num_sentences=-1).threshold_signals() == {}
    assert TxtC4Params(variant="datatrove").threshold_signals()["min_num_sentences"].effective == 5
    assert "min_doc_words" not in TxtGopherQualityParams(min_doc_words=0).threshold_signals()  # 0 disables in the kernel


@pytest.mark.parametrize("bound", [Bound.LOWER, Bound.UPPER])
def test_integer_rounding_keeps_the_same_rows_as_the_real_bound(bound: Bound) -> None:
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(300, 50, 5000))
    mean, std, k = x.mean(), x.std(ddof=1), 2.5
    real = mean - k * std if bound is Bound.LOWER else mean + k * std
    t = Threshold(column("x"), bound, integer=True, minimum=0)
    proposed = t.propose(mean, std, k)
    assert isinstance(proposed, int)
    assert proposed == (math.ceil(real) if bound is Bound.LOWER else math.floor(real))
    keep_real = x >= real if bound is Bound.LOWER else x <= real
    keep_int = x >= proposed if bound is Bound.LOWER else x <= proposed
    assert (keep_real == keep_int).all()


def test_proposals_clamp_to_the_params_range() -> None:
    assert Threshold(column("s"), Bound.LOWER, strict=True, minimum=0.0, maximum=1.0).propose(0.5, 0.3, 3) == 0.0
    assert Threshold(column("s"), Bound.UPPER, minimum=1.0).propose(1.2, 0.1, -5) == 1.0
    assert ImgQualityFilterParams().threshold_signals()["min_side_px"].propose(100.0, 80.0, 3) == 1  # ge=1


def test_keep_sql_drops_null_signals() -> None:
    t = ImgQualityFilterParams().threshold_signals()["min_side_px"]
    sql = t.keep_sql(200)
    assert sql.startswith("coalesce(") and ">= 200.0" in sql and "IS NOT NULL" in sql
