"""A clip's window on its parent video, and which frames fall in it (pure; imported by operators and decoders alike)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Window:
    """A clip's span ``[start_s, end_s)``: seconds from the video stream's first frame (``video_clips``)."""

    start_s: float
    end_s: float


def window_span(pts: Sequence[int], origin: int, time_base: Fraction, window: Window) -> tuple[int, int]:
    """``[first, stop)``: indices of the frames whose time ``(pts - origin) × time_base`` lies in the window.

    >>> window_span([0, 512, 1024, 1536, 2048], 0, Fraction(1, 1024), Window(0.5, 1.5))
    (1, 3)
    >>> window_span([0, 512, 1024], 0, Fraction(1, 1024), Window(5.0, 6.0))
    (3, 3)
    """
    times = [float((p - origin) * time_base) for p in pts]
    return bisect.bisect_left(times, window.start_s), bisect.bisect_left(times, window.end_s)
