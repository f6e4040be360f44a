"""Every reason code of the link filters, and of the page accounting, on generated pages."""

from __future__ import annotations

import pyarrow as pa
import pytest

from spark_mm.links.pages import PageReason, links_batch, page_links
from spark_mm.links.record import RawLink
from spark_mm.links.rules import LinkReason, LinkRules, decide
from spark_mm.links.schema import PAGES_SCHEMA
from spark_mm.links.step import ImageLinksStep

RULES = LinkRules()
OK_ALT = "a black cat on a mat"


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        (RawLink(0, "https://a.example/cat.jpg", OK_ALT), None),
        (RawLink(0, None, OK_ALT), LinkReason.NO_URL),
        (RawLink(0, "data:image/png;base64,", OK_ALT, data_uri=True), LinkReason.DATA_URI),
        (RawLink(0, "http://[::1/x.jpg", OK_ALT, bad_url=True), LinkReason.BAD_URL),
        (RawLink(0, "javascript:void(0)", OK_ALT), LinkReason.NOT_HTTP),
        (RawLink(0, "ftp://a.example/x.jpg", OK_ALT), LinkReason.NOT_HTTP),
        (RawLink(0, "relative/x.jpg", OK_ALT), LinkReason.NOT_HTTP),
        (RawLink(0, "https://a.example/" + "x" * 2100 + ".jpg", OK_ALT), LinkReason.URL_TOO_LONG),
        (RawLink(0, "https://a.example/logo.SVG", OK_ALT), LinkReason.BLOCKED_EXTENSION),
        (RawLink(0, "https://a.example/anim.gif?v=2", OK_ALT), LinkReason.BLOCKED_EXTENSION),
        (RawLink(0, "https://a.example/favicon.ico", OK_ALT), LinkReason.BLOCKED_EXTENSION),
        (RawLink(0, "https://gifts.example/a.gif.jpg", OK_ALT), None),  # the suffix counts, not a substring
        (RawLink(0, "https://a.example/p.png", OK_ALT, width_px=1, height_px=1), LinkReason.TRACKING_PIXEL),
        (RawLink(0, "https://a.example/p.png", OK_ALT, width_px=0), LinkReason.TRACKING_PIXEL),
        (RawLink(0, "https://a.example/p.png", OK_ALT, width_px=2, height_px=2), None),
        (RawLink(0, "https://stats.g.doubleclick.net/p.png", OK_ALT), LinkReason.TRACKING_PIXEL),
        (RawLink(0, "https://www.facebook.com/tr?id=1&ev=PageView", OK_ALT), LinkReason.TRACKING_PIXEL),
        (RawLink(0, "https://www.facebook.com/travel.jpg", OK_ALT), None),
        (RawLink(0, "https://a.example/p.png", None), LinkReason.NO_ALT),
        (RawLink(0, "https://a.example/p.png", ""), LinkReason.NO_ALT),
        (RawLink(0, "https://a.example/p.png", "cats"), LinkReason.ALT_TOO_SHORT),
        (RawLink(0, "https://a.example/p.png", "kitty"), None),  # exactly 5 characters
    ],
)
def test_every_link_reason(link: RawLink, reason: LinkReason | None) -> None:
    assert decide(link, RULES) == reason


def test_every_link_reason_is_pinned_above() -> None:
    import inspect
    import sys

    module = inspect.getsource(sys.modules[__name__])
    assert [r for r in LinkReason if f"LinkReason.{r.name})" not in module] == []


def test_rule_order_url_before_alt() -> None:
    assert decide(RawLink(0, "https://a.example/x.svg", None), RULES) is LinkReason.BLOCKED_EXTENSION
    assert decide(RawLink(0, None, None), RULES) is LinkReason.NO_URL


def test_thresholds_are_params() -> None:
    loose = LinkRules(min_alt_chars=1, blocked_extensions=(), max_pixel_side_px=0, tracker_hosts=())
    assert decide(RawLink(0, "https://a.example/x.gif", "c", width_px=1), loose) is None
    with pytest.raises(ValueError, match="start with a dot"):
        LinkRules(blocked_extensions=("svg",))
    with pytest.raises(ValueError, match="bare host names"):
        LinkRules(tracker_hosts=("https://x.example/",))


STEP = ImageLinksStep()


def test_every_page_reason() -> None:
    page = "https://a.example/"
    html = b"<html><body><img src='/c.jpg' alt='a cat on a mat'></body></html>"
    wat_request = b'{"Envelope": {"Payload-Metadata": {"HTTP-Request-Metadata": {}}}}'
    cases = {
        None: page_links(html, "text/html", {"WARC-Type": "response"}, page, STEP),
        PageReason.NO_PAYLOAD: page_links(None, None, {"WARC-Type": "request"}, page, STEP),
        PageReason.UNSUPPORTED_MIME: page_links(b"\x89PNG\r\n", "image/png", {"WARC-Type": "response"}, page, STEP),
        PageReason.TOO_LARGE: page_links(b"<html>" + b" " * 100, "text/html", {}, page, ImageLinksStep(max_html_bytes=50)),
        PageReason.WAT_NOT_A_PAGE: page_links(wat_request, "application/json", {"WARC-Type": "metadata"}, page, STEP),
        PageReason.PARSE_ERROR: page_links(b"{broken", "application/json", {"WARC-Type": "metadata"}, page, STEP),
    }
    assert {k: v.reason for k, v in cases.items()} == {k: k for k in cases}
    assert set(cases) - {None} == set(PageReason)
    assert cases[None].source == "html" and len(cases[None].links) == 1
    assert cases[PageReason.PARSE_ERROR].error.startswith("JSONDecodeError")
    # CC's WARC metadata records (warc-fields) are not WAT: unsupported, not a parse error
    fields = page_links(b"fetchTimeMs: 1\r\n", "application/warc-fields", {"WARC-Type": "metadata"}, page, STEP)
    assert fields.reason is PageReason.UNSUPPORTED_MIME


def test_html_without_mime_is_sniffed_and_charset_resolved() -> None:
    body = "<!DOCTYPE html><meta charset='windows-1252'><img src='a.jpg' alt='caf\xe9 au lait'>".encode("cp1252")
    p = page_links(body, None, {}, "https://a.example/", STEP)
    assert p.source == "html" and p.links[0].alt == "café au lait"
    assert page_links(b"plain words", "text/plain", {}, None, STEP).reason is PageReason.UNSUPPORTED_MIME


def test_links_per_page_cap() -> None:
    body = b"".join(b"<img src='%d.jpg' alt='picture %d'>" % (i, i) for i in range(7))
    p = page_links(body, "text/html", {}, "https://a.example/", ImageLinksStep(max_links_per_page=5))
    assert p.truncated and [l.position for l in p.links] == [0, 1, 2, 3, 4]


def test_batch_accounts_for_every_row() -> None:
    rows = {
        "sample_id": ["s_html", "s_req", "s_png", "s_broken"],
        "payload": [b"<img src='a.jpg' alt='a red fox'><img src='t.gif' alt='x'><img>", None, b"\x89PNG", b"{"],
        "mime_type": ["text/html", None, "image/png", "application/json"],
        "record_meta": [[("WARC-Type", "response")], [("WARC-Type", "request")], [("WARC-Type", "response")], [("WARC-Type", "metadata")]],
        "url": ["https://a.example/p/", "https://a.example/p/", "https://a.example/i.png", "https://a.example/p/"],
    }
    batch = pa.RecordBatch.from_pydict(rows, schema=pa.schema([("sample_id", pa.string()), ("payload", pa.binary()), ("mime_type", pa.string()),
                                                               ("record_meta", pa.map_(pa.string(), pa.string())), ("url", pa.string())]))
    out = links_batch(batch, STEP, "run-1", "fp")
    assert out.schema.equals(PAGES_SCHEMA) and out.num_rows == 4
    d = out.to_pydict()
    assert d["link_count"] == [3, 0, 0, 0] and d["link_ok_count"] == [1, 0, 0, 0]
    assert d["link_extract_reason"] == [None, "no_payload", "unsupported_mime", "parse_error"]
    assert d["errors"][3][0][0] == "img_links" and d["errors"][0] == []
    links = d["links"][0]
    assert [(l["url"], l["link_laion_reason"]) for l in links] == [
        ("https://a.example/p/a.jpg", None), ("https://a.example/p/t.gif", "blocked_extension"), (None, "no_url")]
    assert len({l["link_id"] for l in links}) == 3 and all(l["page_url"] == "https://a.example/p/" for l in links)
