"""txt_extract extractor=trafilatura equals datatrove's Trafilatura extractor (FineWeb's settings)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

pytest.importorskip("trafilatura")
pytest.importorskip("resiliparse")
Trafilatura = pytest.importorskip("datatrove.pipeline.extractors.trafilatura").Trafilatura

from spark_mm.ops.registry import build  # noqa: E402
from spark_mm.ops.text_extract import TxtExtractParams  # noqa: E402

SCHEMA = pa.schema([("payload", pa.binary()), ("text", pa.string()), ("mime_type", pa.string()),
                    ("record_meta", pa.map_(pa.string(), pa.string()))])
PARA = "The council voted on Tuesday to extend the library's opening hours through the winter months. "
PAGES = [
    "<html><head><title>News</title></head><body><nav><a href='/'>Home</a> | <a href='/b'>Blog</a></nav>"
    f"<article><h1>Library hours</h1><p>{PARA * 5}</p><p>{PARA * 3}</p></article>"
    "<footer>Copyright 2024 Example</footer></body></html>",
    # a repeated paragraph: trafilatura's deduplicate drops the copy
    f"<html><body><main><p>{PARA * 4}</p><p>{PARA * 4}</p><p>Residents welcomed the change.</p></main>"
    "<div class='comments'><p>Great news! Finally.</p></div></body></html>",
    "<html><body><ul><li>one</li><li>two</li></ul></body></html>",
]


def _ours(htmls: list[str]) -> list[str | None]:
    rows = [{"payload": h.encode(), "text": None, "mime_type": "text/html", "record_meta": None} for h in htmls]
    out = build(TxtExtractParams(extractor="trafilatura")).apply(pa.RecordBatch.from_pylist(rows, schema=SCHEMA))
    return out.columns.column("txt_content").to_pylist()


def test_trafilatura_matches_datatrove_on_built_pages() -> None:
    ref = Trafilatura()
    expected = [ref.extract(h) for h in PAGES]
    assert expected[0] and "Library hours" not in (expected[2] or "")  # the pages exercise real output
    assert _ours(PAGES) == expected


def test_extractor_enters_fingerprint() -> None:
    assert build(TxtExtractParams(extractor="trafilatura")).fingerprint() != build(TxtExtractParams()).fingerprint()


def test_trafilatura_matches_datatrove_on_shared_warc(shared_data: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    htmls: list[str] = []
    with open(shared_data / "warc" / "cc_whirlwind.warc.gz", "rb") as f:
        for rec in ArchiveIterator(f):
            ctype = rec.http_headers.get_header("Content-Type", "") if rec.http_headers else ""
            if rec.rec_type == "response" and "html" in ctype:
                body = rec.content_stream().read()
                htmls.append(body.decode("utf-8", errors="replace"))
            if len(htmls) == 8:
                break
    assert htmls
    ref = Trafilatura()
    assert _ours(htmls) == [ref.extract(h) for h in htmls]
