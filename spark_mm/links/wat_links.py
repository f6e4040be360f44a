"""Image links of a page as Common Crawl's WAT records publish them.

A WAT file is WARC ``metadata`` records whose payload is JSON; for an HTML response the links are
``Envelope.Payload-Metadata.HTTP-Response-Metadata.HTML-Metadata.Links``, each ``{"path":
"IMG@/src", "url": ..., "alt": ..., "title": ...}`` with the URL as written in the page, and the
page's ``<base href>`` is ``HTML-Metadata.Head.Base``. As cc2dataset does
(``extract_image_only_from_links`` / ``make_links_absolute``), only ``path == "IMG@/src"``
entries are image links, and URLs are resolved against the base (``Head.Base`` resolved against
``WARC-Target-URI``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from spark_mm.links.record import RawLink
from spark_mm.links.urls import base_url, normalize_text, resolve

IMG_PATH = "IMG@/src"


class NotAPage(Exception):
    """A WAT record that describes no HTML page (a request, a non-HTML response, warcinfo)."""


@dataclass(frozen=True)
class WatPage:
    """The page a WAT record describes, and its image links."""

    page_url: str | None
    links: list[RawLink]


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def target_uri(value: Any) -> str | None:
    """A ``WARC-Target-URI`` without the angle brackets some writers keep (WARC 1.0 draft syntax).

    warcio strips them when reading the WARC, webarchive-commons copies them into the WAT.

    >>> target_uri("<https://a.org/>"), target_uri("https://a.org/"), target_uri(None)
    ('https://a.org/', 'https://a.org/', None)
    """
    if not isinstance(value, str):
        return None
    v = value.strip()
    return v[1:-1] if v.startswith("<") and v.endswith(">") else v


def links_from_wat(payload: bytes | str) -> WatPage:
    """Parse one WAT record's JSON payload.

    Raises:
        ValueError: the payload is not JSON (``json.JSONDecodeError``).
        NotAPage: the record has no ``HTML-Metadata`` (it is about a request or a non-HTML body).

    >>> doc = {"Envelope": {"WARC-Header-Metadata": {"WARC-Target-URI": "https://a.org/x/p"},
    ...   "Payload-Metadata": {"HTTP-Response-Metadata": {"HTML-Metadata": {"Links": [
    ...     {"path": "A@/href", "url": "/"}, {"path": "IMG@/src", "url": "i.png", "alt": "a cat"}]}}}}}
    >>> page = links_from_wat(json.dumps(doc))
    >>> page.page_url, [(l.position, l.url, l.alt) for l in page.links]
    ('https://a.org/x/p', [(0, 'https://a.org/x/i.png', 'a cat')])
    """
    doc = json.loads(payload)
    envelope = _get(doc, "Envelope")
    page_url = target_uri(_get(envelope, "WARC-Header-Metadata", "WARC-Target-URI"))
    html = _get(envelope, "Payload-Metadata", "HTTP-Response-Metadata", "HTML-Metadata")
    if not isinstance(html, dict):
        raise NotAPage("no HTML-Metadata in this WAT record")
    base = base_url(page_url, _get(html, "Head", "Base"))
    entries = html.get("Links") or []
    out: list[RawLink] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("path") != IMG_PATH:
            continue
        src = resolve(base, entry.get("url") if isinstance(entry.get("url"), str) else None)
        alt, title = entry.get("alt"), entry.get("title")
        out.append(
            RawLink(
                position=len(out),
                url=src.url,
                alt=normalize_text(alt if isinstance(alt, str) else None),
                title=normalize_text(title if isinstance(title, str) else None),
                bad_url=src.bad,
                data_uri=src.data_uri,
            )
        )
    return WatPage(page_url, out)
