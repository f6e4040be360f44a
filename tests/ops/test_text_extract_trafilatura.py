"""txt_extract extractor=trafilatura equals datatrove's Trafilatura extractor (FineWeb's settings)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

pytest.importorskip("trafilatura")
pytest.importorskip("resiliparse")
Trafilatura = pytest.importorskip("datatrove.pipeline.extractors.trafilatura").Trafilatura
from trafilatura.deduplication import LRU_TEST  # noqa: E402

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


def _ours(htmls: list[str], dedup: str = "page") -> list[str | None]:
    rows = [{"payload": h.encode(), "text": None, "mime_type": "text/html", "record_meta": None} for h in htmls]
    op = build(TxtExtractParams(extractor="trafilatura", trafilatura_dedup=dedup))  # type: ignore[arg-type]
    return op.apply(pa.RecordBatch.from_pylist(rows, schema=SCHEMA)).columns.column("txt_content").to_pylist()


def _datatrove(htmls: list[str], fresh_cache_per_page: bool = True) -> list[str | None]:
    """datatrove's extractor; its paragraph cache emptied before each page, or once (a fresh worker)."""
    ref, out = Trafilatura(), []
    LRU_TEST.clear()
    for h in htmls:
        if fresh_cache_per_page:
            LRU_TEST.clear()
        out.append(ref.extract(h))
    return out


def test_trafilatura_matches_datatrove_on_built_pages() -> None:
    expected = _datatrove(PAGES)
    assert expected[0] and "Library hours" not in (expected[2] or "")  # the pages exercise real output
    assert PARA.strip() in (expected[1] or "") and (expected[1] or "").count(PARA.strip()) < 8  # in-page copy dropped
    assert _ours(PAGES) == expected


# A boilerplate paragraph on every page of a site: datatrove's shared cache drops it from the
# fourth page on (seen more than twice), so that page's text depends on what the worker saw first.
BOILER = "Subscribe to our newsletter for weekly updates on council decisions, planning notices and local events in the area."
SITE = [
    f"<html><body><article><h1>Story {i}</h1><p>{f'Story number {i} tells of the harvest festival and its many visitors. ' * 4}</p>"
    f"<p>{BOILER}</p></article></body></html>"
    for i in range(5)
]


def test_page_scope_text_is_a_function_of_the_page_alone() -> None:
    alone = _ours(SITE[-1:])
    after_site = _ours(SITE)
    assert BOILER in (alone[0] or "") and after_site[-1] == alone[0]
    LRU_TEST.clear()  # a fresh worker
    worker = _ours(SITE, dedup="worker")
    assert BOILER not in (worker[-1] or "") and BOILER in (worker[0] or "")  # the history-dependent variant
    assert worker == _datatrove(SITE, fresh_cache_per_page=False)  # ... is datatrove's, on a fresh worker


def test_extractor_enters_fingerprint() -> None:
    traf = build(TxtExtractParams(extractor="trafilatura")).fingerprint()
    assert traf != build(TxtExtractParams()).fingerprint()
    assert traf != build(TxtExtractParams(extractor="trafilatura", trafilatura_dedup="worker")).fingerprint()
    # resiliparse rows written before trafilatura_dedup existed stay current
    assert "trafilatura_dedup" not in build(TxtExtractParams()).fingerprint()


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
    assert _ours(htmls) == _datatrove(htmls)
