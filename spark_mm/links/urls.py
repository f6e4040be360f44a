"""Resolving an ``<img>`` URL as browsers and cc2dataset do, without ever raising.

cc2dataset (``make_link_absolute``) keeps a URL that starts with ``http://`` / ``https://`` as it
is and resolves any other with ``urllib.parse.urljoin`` against the base: the page URL, or the
page's ``<base href>`` resolved against it. Before that, the HTML standard's URL parsing strips
leading and trailing ASCII whitespace and drops tabs and newlines inside the attribute value;
WAT URLs were written by Common Crawl's parser from the same attribute, so both paths share this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

_ASCII_WS = "\t\n\f\r "
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_DIM = re.compile(r"^\s*(\d{1,9})(?:\.\d*)?\s*(?:px)?\s*$", re.I)
DATA_PREFIX = "data:"


@dataclass(frozen=True)
class Resolved:
    """An attribute value made absolute: ``url`` (None when empty) and what was wrong with it."""

    url: str | None
    bad: bool = False  # urljoin refused it (e.g. an unclosed IPv6 bracket); ``url`` is the cleaned value
    data_uri: bool = False  # a ``data:`` URI; ``url`` is cut to its header (``data:image/png;base64,``)


def clean(value: str | None) -> str | None:
    """The attribute value as the HTML URL parser sees it; None when nothing is left.

    >>> clean("  /a b.png\\n"), clean(" \\t"), clean(None)
    ('/a b.png', None, None)
    """
    if value is None:
        return None
    out = _TAB_NEWLINE.sub("", value.strip(_ASCII_WS))
    return out or None


def base_url(page_url: str | None, base_href: str | None) -> str | None:
    """The base URL of a page: its ``<base href>`` resolved against the page URL (cc2dataset's rule).

    >>> base_url("https://a.org/x/y.html", "/img/"), base_url("https://a.org/x/y.html", None)
    ('https://a.org/img/', 'https://a.org/x/y.html')
    """
    href = clean(base_href)
    if href is None:
        return page_url
    if page_url is None:
        return href
    try:
        return urljoin(page_url, href)
    except ValueError:
        return page_url


def resolve(base: str | None, value: str | None) -> Resolved:
    """``value`` (an ``src``) as an absolute URL against ``base``; never raises.

    >>> resolve("https://a.org/x/", "p.png").url, resolve("https://a.org/x/", "//cdn.org/p.png").url
    ('https://a.org/x/p.png', 'https://cdn.org/p.png')
    >>> resolve("https://a.org/", "data:image/gif;base64,R0lGOD").url
    'data:image/gif;base64,'
    >>> resolve("https://a.org/", "http://[::1/p.png").bad
    True
    """
    raw = clean(value)
    if raw is None:
        return Resolved(None)
    if raw[:5].lower() == DATA_PREFIX:
        head = raw.split(",", 1)[0]
        return Resolved(head + ("," if "," in raw else ""), data_uri=True)
    if raw.startswith(("http://", "https://")) or base is None:
        url = raw
    else:
        try:
            url = urljoin(base, raw)
        except ValueError:
            return Resolved(raw, bad=True)
    try:
        urlsplit(url)
    except ValueError:
        return Resolved(url, bad=True)
    return Resolved(url)


def declared_px(value: str | None) -> int | None:
    """A ``width``/``height`` attribute as whole pixels; None for percentages, blanks and junk.

    >>> declared_px("1"), declared_px(" 1px "), declared_px("100%"), declared_px("auto"), declared_px("2.5")
    (1, 1, None, None, 2)
    """
    if value is None:
        return None
    m = _DIM.match(value)
    return int(m.group(1)) if m else None


def normalize_text(value: str | None) -> str | None:
    """Alt / title text with runs of whitespace (newlines included) collapsed to one space, stripped.

    Crawling@home replaced newlines by spaces and stripped (then ran ftfy, which is not done here).

    >>> normalize_text("  a\\n  cat\\t "), normalize_text(None), normalize_text("   ")
    ('a cat', None, '')
    """
    if value is None:
        return None
    return " ".join(value.split())
