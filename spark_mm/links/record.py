"""One image link as both extractors produce it, before ids and filters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawLink:
    """An ``<img>`` of a page.

    Attributes:
        position: 0-based ordinal among the page's ``<img>`` elements (HTML) or ``IMG@/src``
            entries (WAT), in document order.
        url: ``src`` resolved to an absolute URL (a ``data:`` URI cut to its header); None when
            the tag has no usable ``src``.
        bad_url: urljoin refused the ``src``.
        data_uri: ``src`` is a ``data:`` URI.
        alt: alt text with whitespace collapsed; None when the attribute is absent.
        title: title attribute, the same way.
        data_src: the lazy-loading ``data-src`` attribute resolved like ``src`` (HTML only).
        width_px / height_px: declared ``width`` / ``height`` in whole pixels (HTML only).
    """

    position: int
    url: str | None
    alt: str | None
    title: str | None = None
    bad_url: bool = False
    data_uri: bool = False
    data_src: str | None = None
    width_px: int | None = None
    height_px: int | None = None
