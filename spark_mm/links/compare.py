"""How far the HTML extractor agrees with Common Crawl's WAT links for the same pages.

Pairs each WARC ``response`` with the WAT ``metadata`` record that refers to it
(``WARC-Refers-To`` = the response's ``WARC-Record-ID``), extracts both, and compares the sets of
``(image URL, alt)`` per page. Used by ``benchmarks/links_vs_wat.py`` and the shared-data test;
docs/image_text.md reports the numbers and explains the differences.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Iterable
from dataclasses import dataclass, field

from spark_mm.links.pages import page_links
from spark_mm.links.record import RawLink
from spark_mm.links.step import ImageLinksStep

Pair = tuple[str | None, str | None]


@dataclass
class PageAgreement:
    """One page's two link sets and where they differ."""

    url: str | None
    html: set[Pair]
    wat: set[Pair]
    # WAT pairs that match an HTML pair once decoded: character references in the URL and alt
    # (Common Crawl's parser writes attribute values undecoded: ``d&#39;armas``, ``?w=1&amp;h=2``)
    # and a valueless ``alt`` (absent in the WAT, "" in the DOM)
    entity_only: set[Pair] = field(default_factory=set)

    @property
    def both(self) -> set[Pair]:
        return self.html & self.wat

    @property
    def jaccard(self) -> float:
        union = self.html | self.wat
        return len(self.both) / len(union) if union else 1.0


@dataclass
class Agreement:
    """Per-page agreements plus the WARC responses / WAT records that had no partner."""

    pages: list[PageAgreement] = field(default_factory=list)
    unpaired_responses: int = 0
    unpaired_wat: int = 0
    wat_not_pages: int = 0  # WAT records of requests / non-HTML responses / metadata

    def totals(self) -> dict[str, float]:
        html = sum(len(p.html) for p in self.pages)
        wat = sum(len(p.wat) for p in self.pages)
        both = sum(len(p.both) for p in self.pages)
        ent = sum(len(p.entity_only) for p in self.pages)
        return {
            "pages": len(self.pages), "html_pairs": html, "wat_pairs": wat, "both": both,
            "entity_only": ent, "jaccard": both / (html + wat - both) if html + wat - both else 1.0,
            "jaccard_entities_decoded": (both + ent) / (html + wat - both - ent) if html + wat - both - ent else 1.0,
            "unpaired_responses": self.unpaired_responses, "unpaired_wat": self.unpaired_wat, "wat_not_pages": self.wat_not_pages,
        }


def pairs(links: Iterable[RawLink]) -> set[Pair]:
    """The comparable part of links: (absolute URL, alt) of each link that has a URL."""
    return {(link.url, link.alt) for link in links if link.url is not None}


def _decoded(pair: Pair) -> Pair:
    url, alt = pair
    return (html_lib.unescape(url) if url else url, html_lib.unescape(alt) if alt else "")


def compare(records: Iterable[dict], step: ImageLinksStep | None = None) -> Agreement:
    """Compare bronze rows of WARC responses and WAT metadata records (``iter_warc_records`` rows)."""
    step = step or ImageLinksStep(max_links_per_page=1_000_000)
    responses: dict[str, tuple[str | None, set[Pair]]] = {}
    wats: dict[str, set[Pair]] = {}
    out = Agreement()
    for row in records:
        meta = row.get("record_meta") or {}
        kind = meta.get("WARC-Type")
        if kind not in ("response", "metadata"):
            continue
        page = page_links(row.get("payload"), row.get("mime_type"), meta, row.get("url"), step)
        if kind == "response" and page.source == "html" and row.get("source_record_id"):
            responses[row["source_record_id"]] = (row.get("url"), pairs(page.links))
        elif kind == "metadata" and page.source == "wat":
            wats[row.get("refers_to_record_id") or ""] = pairs(page.links)
        elif kind == "metadata":
            out.wat_not_pages += 1
    for rid, (url, html_pairs) in responses.items():
        if rid not in wats:
            out.unpaired_responses += 1
            continue
        wat_pairs = wats.pop(rid)
        page = PageAgreement(url, html_pairs, wat_pairs)
        html_decoded = {_decoded(p) for p in html_pairs}
        page.entity_only = {p for p in wat_pairs - html_pairs if _decoded(p) in html_decoded}
        out.pages.append(page)
    out.unpaired_wat = len(wats)
    return out
