"""Stable link ids: 128 bits of SHA-256 over what a link *is* on its page (docs/identity.md).

``("link", parent sample_id, image URL, alt text, position)``, NUL-joined like ``sources.ids``
so a link id can never equal a sample id. The same page ingested again (same ``sample_id``) gives
the same link ids; two ``<img>`` tags with equal URL and alt on one page differ by position.
"""

from __future__ import annotations

import hashlib

SEPARATOR = "\x00"
TAG = "link"


def link_id(sample_id: str, url: str | None, alt: str | None, position: int) -> str:
    """The id of the ``position``-th image link of page ``sample_id`` (null URL / alt hash as "").

    >>> link_id("ab" * 16, "https://a/x.jpg", "a cat", 0) == link_id("ab" * 16, "https://a/x.jpg", "a cat", 0)
    True
    >>> link_id("ab" * 16, "https://a/x.jpg", "a cat", 0) != link_id("ab" * 16, "https://a/x.jpg", "a cat", 1)
    True
    >>> len(link_id("ab" * 16, None, None, 3))
    32
    """
    parts = (TAG, sample_id, url or "", alt or "", str(position))
    return hashlib.sha256(SEPARATOR.join(parts).encode()).hexdigest()[:32]
