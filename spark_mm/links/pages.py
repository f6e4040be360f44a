"""One bronze ``samples`` row → its image links plus one accounting row; never an exception per row.

A row is a page when it holds an HTML payload (a WARC ``response``; charset resolved as
``txt_extract`` does) or a WAT ``metadata`` record with JSON payload (``links_from_wat``). Every
other row is still accounted for: ``link_extract_ok=False`` with a :class:`PageReason`, zero
links. ``link_extract_ok`` is true for every parsed page, also one without a single ``<img>``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from spark_mm.links.alt_lang import alt_languages
from spark_mm.links.html_links import links_from_html
from spark_mm.links.ids import link_id
from spark_mm.links.record import RawLink
from spark_mm.links.rules import decide
from spark_mm.links.schema import LINK_STRUCT, PAGES_SCHEMA
from spark_mm.links.step import ImageLinksStep
from spark_mm.links.wat_links import NotAPage, links_from_wat

HTML_MIME = ("text/html", "application/xhtml+xml")
WAT_MIME = "application/json"
OP = "img_links"  # the key of this step's entries in ``errors``


class PageReason(str, enum.Enum):
    """Why a ``samples`` row yielded no parsed page (``link_extract_reason``)."""

    NO_PAYLOAD = "no_payload"  # no body: request / revisit / WET conversion records, unreadable records
    UNSUPPORTED_MIME = "unsupported_mime"  # a body that is neither HTML nor WAT JSON (images, PDF, warc-fields)
    TOO_LARGE = "too_large"  # a body over max_html_bytes: not parsed
    WAT_NOT_A_PAGE = "wat_not_a_page"  # a WAT record without HTML-Metadata (a request, a non-HTML response)
    PARSE_ERROR = "parse_error"  # the HTML or JSON parser failed; the message is in ``errors``


@dataclass(frozen=True)
class PageLinks:
    """What one row yielded: ``source`` html / wat (None when no page), the links, why none."""

    source: str | None
    page_url: str | None
    links: list[RawLink] = field(default_factory=list)
    truncated: bool = False
    reason: PageReason | None = None
    error: str | None = None


def _looks_html(body: bytes) -> bool:
    head = body.lstrip()[:200].lower()
    return head.startswith((b"<!doctype html", b"<html"))


def page_links(payload: bytes | None, mime: str | None, meta: Mapping[str, str] | None, url: str | None, step: ImageLinksStep) -> PageLinks:
    """The image links of one ``samples`` row (columns ``payload``, ``mime_type``, ``record_meta``, ``url``).

    >>> step = ImageLinksStep()
    >>> p = page_links(b'<img src="/c.jpg" alt="a cat on a mat">', "text/html", {}, "https://a.org/", step)
    >>> p.source, [(l.url, l.alt) for l in p.links]
    ('html', [('https://a.org/c.jpg', 'a cat on a mat')])
    >>> page_links(None, None, {"WARC-Type": "request"}, "https://a.org/", step).reason.value
    'no_payload'
    """
    from spark_mm.ops.text_extract import decode_body, resolve_charset

    meta = meta or {}
    if payload is None:
        return PageLinks(None, url, reason=PageReason.NO_PAYLOAD)
    if len(payload) > step.max_html_bytes:
        return PageLinks(None, url, reason=PageReason.TOO_LARGE)
    kind = (mime or "").split(";")[0].strip().lower()
    try:
        if meta.get("WARC-Type") == "metadata" and kind == WAT_MIME:
            try:
                page = links_from_wat(payload)
            except NotAPage:
                return PageLinks(None, url, reason=PageReason.WAT_NOT_A_PAGE)
            return _cap(PageLinks("wat", page.page_url or url, page.links), step)
        if kind not in HTML_MIME and not (kind in ("", "text/plain", "application/octet-stream") and _looks_html(payload)):
            return PageLinks(None, url, reason=PageReason.UNSUPPORTED_MIME)
        charset, _ = resolve_charset(payload, meta.get("content_type") or mime)
        return _cap(PageLinks("html", url, links_from_html(decode_body(payload, charset), url)), step)
    except Exception as e:  # noqa: BLE001 - one broken page is an error row, never a failed batch
        return PageLinks(None, url, reason=PageReason.PARSE_ERROR, error=f"{type(e).__name__}: {e}")


def _cap(page: PageLinks, step: ImageLinksStep) -> PageLinks:
    if len(page.links) <= step.max_links_per_page:
        return page
    return PageLinks(page.source, page.page_url, page.links[: step.max_links_per_page], truncated=True)


def link_rows(sample_id: str, page: PageLinks, step: ImageLinksStep) -> list[dict[str, Any]]:
    """The ``image_links`` values of a page's links (without ``sample_id``, ``link_source``, ``run_id``)."""
    rows = []
    langs, scores = alt_languages([link.alt for link in page.links], step)
    for link, lang, score in zip(page.links, langs, scores):
        reason = decide(link, step)
        rows.append(
            {
                "link_id": link_id(sample_id, link.url, link.alt, link.position),
                "page_url": page.page_url,
                "url": link.url,
                "alt": link.alt,
                "title": link.title,
                "position": link.position,
                "data_src": link.data_src,
                "width_px": link.width_px,
                "height_px": link.height_px,
                "link_laion_ok": reason is None,
                "link_laion_reason": None if reason is None else reason.value,
                "link_alt_lang": lang,
                "link_alt_lang_score": score,
            }
        )
    return rows


def _column(batch: pa.RecordBatch, name: str) -> list[Any]:
    if name in batch.schema.names:
        return batch.column(name).to_pylist()
    return [None] * batch.num_rows


def links_batch(batch: pa.RecordBatch, step: ImageLinksStep, run_id: str, fingerprint: str) -> pa.RecordBatch:
    """One ``PAGES_SCHEMA`` row per input row (``sample_id``, ``payload``, ``mime_type``, ``record_meta``, ``url``).

    >>> b = pa.RecordBatch.from_pydict({"sample_id": ["s1", "s2"], "payload": [b'<img src="x.png" alt="a red fox">', None],
    ...     "mime_type": ["text/html", None], "record_meta": [None, None], "url": ["https://a.org/", None]})
    >>> out = links_batch(b, ImageLinksStep(), "r1", "f")
    >>> out.num_rows, out.column("link_count").to_pylist(), out.column("link_extract_reason").to_pylist()
    (2, [1, 0], [None, 'no_payload'])
    """
    ids = _column(batch, "sample_id")
    payloads, mimes = _column(batch, "payload"), _column(batch, "mime_type")
    metas, urls = _column(batch, "record_meta"), _column(batch, "url")
    cols: dict[str, list[Any]] = {f.name: [] for f in PAGES_SCHEMA}
    for sample_id, payload, mime, meta, url in zip(ids, payloads, mimes, metas, urls):
        page = page_links(payload, mime, dict(meta) if meta else None, url, step)
        rows = link_rows(sample_id, page, step)
        cols["sample_id"].append(sample_id)
        cols["link_source"].append(page.source)
        cols["link_count"].append(len(rows))
        cols["link_ok_count"].append(sum(r["link_laion_ok"] for r in rows))
        cols["link_truncated"].append(page.truncated)
        cols["link_extract_ok"].append(page.reason is None)
        cols["link_extract_reason"].append(None if page.reason is None else page.reason.value)
        cols["errors"].append([(OP, page.error)] if page.error else [])
        cols["run_id"].append(run_id)
        cols["fingerprint"].append(fingerprint)
        cols["links"].append(rows)
    arrays = [pa.array(cols[f.name], f.type) for f in PAGES_SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=PAGES_SCHEMA)


__all__ = ["LINK_STRUCT", "PageLinks", "PageReason", "link_rows", "links_batch", "page_links"]
