"""LAION's link filters as a signal: ``link_laion_ok`` and one ``link_laion_reason`` per link.

What each rule matches, and where it comes from (docs/image_text.md, "Link filters"):

- ``no_url``: the ``<img>`` has no ``src`` (or only whitespace). WAT entries always have one.
- ``data_uri``: ``src`` is a ``data:`` URI; Crawling@home dropped URLs containing ``data:image``.
- ``bad_url``: ``urllib`` cannot parse or resolve the URL.
- ``not_http``: the resolved URL's scheme is not http/https (``javascript:``, ``mailto:``, ``ftp:``,
  or still relative because the page has no URL); cc2dataset keeps ``http://`` / ``https://`` only.
- ``url_too_long``: over ``max_url_chars`` (2,048, the Crawling@home worker's limit).
- ``blocked_extension``: the URL path ends in ``.svg``, ``.gif`` or ``.ico`` (Crawling@home's
  ``blocklist_format``). Deviation: Crawling@home tested ``ext in url.lower()`` anywhere in the
  URL, which also dropped ``https://gifts.example/a.jpg``; here only the path's suffix counts.
- ``tracking_pixel``: a declared ``width`` or ``height`` of at most ``max_pixel_side_px`` (1) or
  a host on ``tracker_hosts`` (ad and analytics beacons). Not a LAION link rule: LAION dropped
  such images after download (under 5 KB); deciding it here saves the request.
- ``no_alt``: the alt attribute is absent or blank: cc2dataset's ``len(alt) > 0`` and
  Crawling@home's ``"alt" not in link or link["alt"] == ""``.
- ``alt_too_short``: fewer than ``min_alt_chars`` (5) characters of (whitespace-collapsed) alt
  text: the LAION-5B paper's rule.

Rules apply in that order; the first that fails is the reason. A link that passes all is
``ok=True`` with a null reason. Language identification and the domain / duplicate bloom filters
of Crawling@home are not link rules here (language is a text signal; dedup is ``dedup:``).
"""

from __future__ import annotations

import enum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from spark_mm.links.record import RawLink

# Ad and analytics beacon hosts (a host matches itself and its subdomains). Deliberately short:
# the well-known 1x1 beacons; a full ad-block list is a curation join, not a link rule.
TRACKER_HOSTS: tuple[str, ...] = (
    "doubleclick.net",
    "google-analytics.com",
    "googletagmanager.com",
    "googlesyndication.com",
    "googleadservices.com",
    "adservice.google.com",
    "amazon-adsystem.com",
    "scorecardresearch.com",
    "quantserve.com",
    "pixel.wp.com",
    "stats.wp.com",
    "bat.bing.com",
    "analytics.twitter.com",
    "px.ads.linkedin.com",
    "mc.yandex.ru",
    "top-fwz1.mail.ru",
    "counter.yadro.ru",
    "hm.baidu.com",
)
# (host, path prefix) beacons on hosts that also serve real images
TRACKER_PATHS: tuple[tuple[str, str], ...] = (("facebook.com", "/tr"),)


class LinkReason(str, enum.Enum):
    """Why a link fails LAION's link filters (first failing rule, in this order)."""

    NO_URL = "no_url"
    DATA_URI = "data_uri"
    BAD_URL = "bad_url"
    NOT_HTTP = "not_http"
    URL_TOO_LONG = "url_too_long"
    BLOCKED_EXTENSION = "blocked_extension"
    TRACKING_PIXEL = "tracking_pixel"
    NO_ALT = "no_alt"
    ALT_TOO_SHORT = "alt_too_short"


class LinkRules(BaseModel):
    """Thresholds of the link filters (recipe keys of the ``links:`` section)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    min_alt_chars: int = Field(5, ge=0, description="LAION-5B: alt text under 5 characters is dropped")
    max_url_chars: int = Field(2048, gt=0, description="Crawling@home's limit on the image URL's length")
    blocked_extensions: tuple[str, ...] = Field((".svg", ".gif", ".ico"), description="URL path suffixes dropped (Crawling@home)")
    max_pixel_side_px: int = Field(1, ge=0, description="a declared width or height at most this is a tracking pixel")
    tracker_hosts: tuple[str, ...] = Field(TRACKER_HOSTS, description="beacon hosts (and their subdomains)")

    @field_validator("blocked_extensions")
    @classmethod
    def _dotted(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [e for e in v if not e.startswith(".") or len(e) < 2]
        if bad:
            raise ValueError(f"extensions start with a dot, e.g. '.svg'; got {bad}")
        return tuple(e.lower() for e in v)

    @field_validator("tracker_hosts")
    @classmethod
    def _hosts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [h for h in v if not h or "/" in h or ":" in h]
        if bad:
            raise ValueError(f"tracker hosts are bare host names such as 'doubleclick.net'; got {bad}")
        return tuple(h.lower().strip(".") for h in v)


def _host_matches(host: str, suffixes: tuple[str, ...]) -> bool:
    return any(host == s or host.endswith("." + s) for s in suffixes)


def decide(link: RawLink, rules: LinkRules) -> LinkReason | None:
    """The first rule ``link`` fails, or None when it passes them all.

    >>> r = LinkRules()
    >>> decide(RawLink(0, "https://a.org/cat.jpg", "a black cat"), r) is None
    True
    >>> [decide(RawLink(0, u, a, width_px=w), r).value for u, a, w in [
    ...     (None, "a black cat", None), ("javascript:void(0)", "a black cat", None),
    ...     ("https://a.org/x.GIF", "a black cat", None), ("https://a.org/p.png", "a black cat", 1),
    ...     ("https://a.org/p.png", "", None), ("https://a.org/p.png", "cat", None)]]
    ['no_url', 'not_http', 'blocked_extension', 'tracking_pixel', 'no_alt', 'alt_too_short']
    """
    if link.url is None:
        return LinkReason.NO_URL
    if link.data_uri:
        return LinkReason.DATA_URI
    if link.bad_url:
        return LinkReason.BAD_URL
    try:
        parts = urlsplit(link.url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return LinkReason.BAD_URL
    if parts.scheme.lower() not in ("http", "https") or not host:
        return LinkReason.NOT_HTTP
    if len(link.url) > rules.max_url_chars:
        return LinkReason.URL_TOO_LONG
    if parts.path.lower().endswith(rules.blocked_extensions):
        return LinkReason.BLOCKED_EXTENSION
    side = rules.max_pixel_side_px
    if (link.width_px is not None and link.width_px <= side) or (link.height_px is not None and link.height_px <= side):
        return LinkReason.TRACKING_PIXEL
    if _host_matches(host, rules.tracker_hosts) or any(
        _host_matches(host, (h,)) and parts.path.rstrip("/") == p for h, p in TRACKER_PATHS
    ):
        return LinkReason.TRACKING_PIXEL
    if not link.alt:
        return LinkReason.NO_ALT
    if len(link.alt) < rules.min_alt_chars:
        return LinkReason.ALT_TOO_SHORT
    return None
