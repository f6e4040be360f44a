"""HTML and WAT link extraction on generated pages: base href, relative URLs, alt, data URIs, broken HTML."""

from __future__ import annotations

import json

import pytest

from spark_mm.links.html_links import links_from_html
from spark_mm.links.ids import link_id
from spark_mm.links.wat_links import NotAPage, links_from_wat, target_uri

PAGE = "https://news.example/2024/05/story.html"


def test_relative_urls_resolve_against_the_page() -> None:
    html = """<html><body>
      <img src="cat.jpg" alt="a cat"><img src="/img/dog.png" alt="a dog">
      <img src="//cdn.example/p.webp"><img src="../up.jpg"><img src="https://other.example/x.jpg?a=1&amp;b=2">
    </body></html>"""
    got = [(l.position, l.url) for l in links_from_html(html, PAGE)]
    assert got == [
        (0, "https://news.example/2024/05/cat.jpg"),
        (1, "https://news.example/img/dog.png"),
        (2, "https://cdn.example/p.webp"),
        (3, "https://news.example/2024/up.jpg"),
        (4, "https://other.example/x.jpg?a=1&b=2"),  # character references decoded by the HTML parser
    ]


def test_base_href_wins_and_only_the_first_counts() -> None:
    html = '<head><base target="_blank"><base href="https://static.example/a/"><base href="/ignored/"></head><img src="b.png">'
    (link,) = links_from_html(html, PAGE)
    assert link.url == "https://static.example/a/b.png"
    relative_base = '<base href="/assets/"><img src="c.png">'
    assert links_from_html(relative_base, PAGE)[0].url == "https://news.example/assets/c.png"


def test_alt_title_dims_and_lazy_src() -> None:
    html = '<img src=" x.jpg\n" alt="  two\n  words " title="T  t" width="1" height="1px"><img src="y.jpg" alt><img src="z.jpg" data-src="real.jpg" width="50%">'
    a, b, c = links_from_html(html, PAGE)
    assert (a.url, a.alt, a.title, a.width_px, a.height_px) == ("https://news.example/2024/05/x.jpg", "two words", "T t", 1, 1)
    assert b.alt == "" and b.title is None  # valueless alt: present, empty
    assert c.alt is None and c.width_px is None and c.data_src == "https://news.example/2024/05/real.jpg"


def test_missing_src_and_data_uri() -> None:
    html = '<img alt="no source"><img src="   "><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="pixel">'
    a, b, c = links_from_html(html, PAGE)
    assert a.url is None and b.url is None
    assert c.url == "data:image/gif;base64," and c.data_uri


def test_broken_html_is_repaired_as_browsers_do() -> None:
    # HTML standard tokenizer: an unquoted value runs to the next space ("first<img"), repeated
    # attributes are ignored, and a tag cut off by the end of the file is dropped
    swallowed = "<div><p><img src=a.jpg alt=first<img src='b.jpg' alt=\"second\"></table></td><img src=c.jpg alt=third"
    assert [(l.url, l.alt) for l in links_from_html(swallowed, PAGE)] == [("https://news.example/2024/05/a.jpg", "first<img")]
    # an <img> misplaced inside <table> is foster-parented before the table: still found, in order
    table = "<table><tr><img src=a.jpg alt='in table'><td><p><img src='b.jpg' alt=second></table><img src=c.jpg alt=cut"
    assert [(l.position, l.alt) for l in links_from_html(table, PAGE)] == [(0, "in table"), (1, "second")]
    assert links_from_html("", PAGE) == [] and links_from_html("\x00\xff<<<>>>", PAGE) == []


def test_unparseable_url_is_flagged_not_raised() -> None:
    (link,) = links_from_html('<img src="http://[::1/broken.jpg" alt="broken url">', PAGE)
    assert link.bad_url


def test_page_without_url_keeps_relative_urls() -> None:
    (link,) = links_from_html('<img src="rel.jpg">', None)
    assert link.url == "rel.jpg"


def _wat(links: list[dict], target: str = PAGE, base: str | None = None) -> bytes:
    html_meta: dict = {"Links": links}
    if base:
        html_meta["Head"] = {"Base": base}
    return json.dumps(
        {"Envelope": {"WARC-Header-Metadata": {"WARC-Target-URI": target}, "Payload-Metadata": {"HTTP-Response-Metadata": {"HTML-Metadata": html_meta}}}}
    ).encode()


def test_wat_takes_img_src_entries_only_resolved_against_head_base() -> None:
    payload = _wat(
        [
            {"path": "A@/href", "url": "/about"},
            {"path": "IMG@/src", "url": "p.png", "alt": "a \n picture"},
            {"path": "LINK@/href", "url": "/style.css"},
            {"path": "IMG@/src", "url": "https://cdn.example/q.jpg", "title": "Q"},
        ],
        base="/static/",
    )
    page = links_from_wat(payload)
    assert page.page_url == PAGE
    assert [(l.position, l.url, l.alt, l.title) for l in page.links] == [
        (0, "https://news.example/static/p.png", "a picture", None),
        (1, "https://cdn.example/q.jpg", None, "Q"),
    ]


def test_wat_quirks() -> None:
    assert target_uri("<https://a.example/>") == "https://a.example/"
    page = links_from_wat(_wat([{"path": "IMG@/src", "url": "x.png"}], target="<https://a.example/d/>"))
    assert page.page_url == "https://a.example/d/" and page.links[0].url == "https://a.example/d/x.png"
    request = {"Envelope": {"Payload-Metadata": {"HTTP-Request-Metadata": {}}}}
    with pytest.raises(NotAPage):
        links_from_wat(json.dumps(request))
    with pytest.raises(ValueError):
        links_from_wat(b"{not json")


def test_link_id_rule() -> None:
    page = "ab" * 16
    base = link_id(page, "https://a.example/x.jpg", "a cat", 0)
    assert base == link_id(page, "https://a.example/x.jpg", "a cat", 0)
    assert len({base, link_id(page, "https://a.example/x.jpg", "a cat", 1), link_id("cd" * 16, "https://a.example/x.jpg", "a cat", 0),
                link_id(page, "https://a.example/y.jpg", "a cat", 0), link_id(page, "https://a.example/x.jpg", "a dog", 0)}) == 5
    import hashlib

    assert base == hashlib.sha256("\x00".join(["link", page, "https://a.example/x.jpg", "a cat", "0"]).encode()).hexdigest()[:32]
