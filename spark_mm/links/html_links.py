"""Every ``<img>`` of an HTML page, from resiliparse's DOM (lexbor: the HTML standard's parser).

Which attribute is the image URL: ``src``, as Common Crawl's WAT (``IMG@/src``) and every LAION /
DataComp extractor take it. ``data-src`` (lazy loading: ``src`` is then often a 1x1 placeholder)
is resolved into its own column so a curation query or the downloader may prefer it; ``srcset``
and ``<picture><source>`` are not read (which candidate to take is a size policy, and the WAT has
no such entries to compare with). Broken markup never raises: the HTML parser repairs it the way
browsers do.
"""

from __future__ import annotations

from typing import Any

from spark_mm.links.record import RawLink
from spark_mm.links.urls import base_url, declared_px, normalize_text, resolve


def html_tree(html: str) -> Any:
    """Parse ``html`` with resiliparse (imported here: the package stays importable without it)."""
    from resiliparse.parse.html import HTMLTree

    return HTMLTree.parse(html)


def links_from_tree(tree: Any, page_url: str | None) -> list[RawLink]:
    """The page's ``<img>`` elements in document order, URLs resolved against ``<base href>``.

    The first ``<base>`` with an ``href`` wins (HTML standard, "frozen base URL").

    >>> [l.url for l in links_from_tree(html_tree('<base href="/i/"><img src="a.png"><img>'), "https://x.org/p/q")]
    ['https://x.org/i/a.png', None]
    """
    doc = tree.document
    if doc is None:
        return []
    base_el = doc.query_selector("base[href]")
    base = base_url(page_url, base_el.getattr("href") if base_el is not None else None)
    out: list[RawLink] = []
    for position, img in enumerate(doc.get_elements_by_tag_name("img")):
        src = resolve(base, img.getattr("src"))
        lazy = resolve(base, img.getattr("data-src"))
        out.append(
            RawLink(
                position=position,
                url=src.url,
                alt=normalize_text(img.getattr("alt")),
                title=normalize_text(img.getattr("title")),
                bad_url=src.bad,
                data_uri=src.data_uri,
                data_src=lazy.url,
                width_px=declared_px(img.getattr("width")),
                height_px=declared_px(img.getattr("height")),
            )
        )
    return out


def links_from_html(html: str, page_url: str | None) -> list[RawLink]:
    """:func:`links_from_tree` over a decoded HTML string.

    >>> [(l.url, l.alt) for l in links_from_html('<img src="/a.jpg" alt=" big\\n cat ">', "https://x.org/p")]
    [('https://x.org/a.jpg', 'big cat')]
    """
    return links_from_tree(html_tree(html), page_url)
