"""Stable clip ids: 128 bits of SHA-256 over what a clip *is* (docs/identity.md, "Clip ids").

``("clip", parent sample_id, splitter, splitter_params, start_frame, end_frame)``, NUL-joined like
``sources.ids`` and ``links.ids``, so a clip id never equals a sample or link id. The same video
(same ``sample_id``) split with the same splitter and parameters gives the same ids on every run;
another splitter, another parameter value or other frame bounds give other ids. The error row of a
video that cannot be split hashes empty bounds, so it has an id of its own too.
"""

from __future__ import annotations

import hashlib

SEPARATOR = "\x00"
TAG = "clip"


def clip_id(sample_id: str, splitter: str, splitter_params: str, start_frame: int | None, end_frame: int | None) -> str:
    """The id of the clip ``[start_frame, end_frame)`` of video ``sample_id``.

    ``splitter_params`` is the canonical JSON the ``video_clips`` row stores (sorted keys, no
    spaces). ``None`` bounds (the error row of a video that could not be split) hash as "".

    >>> a = clip_id("ab" * 16, "content", '{"threshold":27.0}', 0, 15)
    >>> a == clip_id("ab" * 16, "content", '{"threshold":27.0}', 0, 15), len(a)
    (True, 32)
    >>> a != clip_id("ab" * 16, "content", '{"threshold":30.0}', 0, 15) != clip_id("ab" * 16, "content", '{"threshold":27.0}', 0, 16)
    True
    >>> clip_id("ab" * 16, "content", "{}", None, None) != clip_id("ab" * 16, "content", "{}", 0, 0)
    True
    """
    parts = (TAG, sample_id, splitter, splitter_params, "" if start_frame is None else str(start_frame), "" if end_frame is None else str(end_frame))
    return hashlib.sha256(SEPARATOR.join(parts).encode()).hexdigest()[:32]
