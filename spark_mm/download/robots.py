"""``X-Robots-Tag`` directives that forbid using an image, parsed as img2dataset parses them.

img2dataset (``downloader.is_disallowed``): each header value is split at its first ``:``; the part
before it, lower-cased, is a user-agent token and the value applies only when it is ours; a value
without ``:`` applies to every bot. The directives are the comma-separated rest, stripped and
lower-cased. One deviation: the token is stripped as well (``otherbot : noai`` is scoped to
``otherbot``; img2dataset compares ``"otherbot "`` and so also ignores it, but ``spark-mm : noai``
would slip past it). A value like ``unavailable_after: 25 Jun 2010`` reads as a token and is
ignored, exactly as there.
"""

from __future__ import annotations

from collections.abc import Iterable


def forbidding_directive(values: Iterable[str], token: str, directives: Iterable[str]) -> str | None:
    """The first directive of ``directives`` that some ``X-Robots-Tag`` value applies to ``token``; None if none.

    >>> forbidding_directive(["noindex, nofollow"], "spark-mm", ["noai", "noindex"])
    'noindex'
    >>> forbidding_directive(["otherbot: noai"], "spark-mm", ["noai"]) is None
    True
    >>> forbidding_directive(["Spark-MM: NoImageAI"], "spark-mm", ["noimageai"])
    'noimageai'
    """
    wanted = {d.strip().lower() for d in directives}
    for value in values:
        scope, sep, rest = value.partition(":")
        ua, body = (scope.strip().lower(), rest) if sep else (None, value)
        if ua is not None and ua != token:
            continue
        for directive in (d.strip().lower() for d in body.split(",")):
            if directive in wanted:
                return directive
    return None
