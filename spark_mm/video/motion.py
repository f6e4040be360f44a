"""Motion score of one video: mean Farneback optical-flow magnitude, as Data-Juicer computes it.

Data-Juicer's ``video_motion_score_filter`` reads frames through OpenCV's ``VideoCapture``:

* ``step = max(min(round(fps / min(sampling_fps, fps)), total_frames − 1), 1)``;
* it reads frame 0, then (its loop ``continue``s before advancing) frame 1, then seeks to
  ``step``, ``2·step``, … until a read fails: frames ``0, 1, step, 2·step, …``;
* each frame is optionally resized (``INTER_AREA``), converted BGR → gray, and the flow between it
  and the previous one (``calcOpticalFlowFarneback`` with pyr_scale 0.5, levels 3, winsize 15,
  iterations 3, poly_n 5, poly_sigma 1.2, flags 0) gives ``mean(|flow|)``, divided by the frame
  diagonal ``hypot(h, w)`` when ``relative``;
* the video's score is the mean over the pairs.

Here PyAV decodes every frame once (presentation order) and the same frame indices are picked.
With a clip :class:`~spark_mm.video.frames.Window` the loop runs over the window's frames as if
the clip were the video (:func:`window_read_indices`), decoding from the keyframe at or before it.
docs/video.md lists the deviations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO

import numpy as np

from spark_mm.video.frames import decode_from_keyframe, timestamps
from spark_mm.video.window import Window, window_span
from spark_mm.video.scenes import ClipReason, SplitError, _open

FARNEBACK = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2, "flags": 0}


def sampling_step(fps: float, sampling_fps: float, total_frames: int) -> int:
    """Data-Juicer's frame step: ``max(min(round(fps / min(sampling_fps, fps)), total − 1), 1)``."""
    step = round(fps / min(sampling_fps, fps)) if fps > 0 else 1
    return max(min(step, total_frames - 1), 1)


def read_indices(total_frames: int, step: int) -> list[int]:
    """Frames Data-Juicer's loop reads: ``0, 1, step, 2·step, …`` below ``total_frames``.

    >>> read_indices(10, 3)
    [0, 1, 3, 6, 9]
    >>> read_indices(4, 1)
    [0, 1, 1, 2, 3]
    """
    out = [i for i in (0, 1) if i < total_frames]
    if len(out) == 2:
        out.extend(range(step, total_frames, step))
    return out


def window_read_indices(span: tuple[int, int], fps: float, sampling_fps: float) -> list[int]:
    """:func:`read_indices` of the clip ``[first, stop)`` as if it were the video; indices into the video.

    >>> window_read_indices((10, 20), 6.0, 2.0)  # step 3 over the clip's 10 frames
    [10, 11, 13, 16, 19]
    """
    first, stop = span
    total = stop - first
    if total <= 0:
        return []
    return [first + i for i in read_indices(total, sampling_step(fps, sampling_fps, total))]


def resized_size(height: int, width: int, size: tuple[int, ...] | None, max_size: int | None) -> tuple[int, int]:
    """Data-Juicer's ``_compute_resized_output_size``: ``(h, w)`` after ``size`` (short edge, or
    both edges) and ``max_size`` (cap on the long edge)."""
    short, long = (width, height) if width <= height else (height, width)
    if size is None:
        new_short, new_long = short, long
    elif len(size) == 1:
        new_short = size[0]
        new_long = int(new_short * long / short)
    else:
        new_short, new_long = min(size), max(size)
    if max_size is not None and new_long > max_size:
        new_short = int(max_size * new_short / new_long)
        new_long = max_size
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    return new_h, new_w


@dataclass(frozen=True)
class MotionOptions:
    sampling_fps: float = 2.0
    size: tuple[int, ...] | None = None
    max_size: int | None = None
    relative: bool = False


class FlowScorer:
    """Mean flow magnitude over BGR frames pushed one at a time (Data-Juicer's loop body)."""

    def __init__(self, opts: MotionOptions) -> None:
        import cv2

        self._cv2, self._opts = cv2, opts
        self._prev: np.ndarray | None = None
        self._scores: list[float] = []

    def push(self, frame: np.ndarray) -> None:
        cv2, opts = self._cv2, self._opts
        h, w = frame.shape[:2]
        nh, nw = resized_size(h, w, opts.size, opts.max_size)
        if (nh, nw) != (h, w):
            frame = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if self._prev is not None:
            flow = cv2.calcOpticalFlowFarneback(self._prev, gray, None, **FARNEBACK)
            mag, _ = cv2.cartToPolar(flow[..., 0], flow[..., 1])
            s = float(np.mean(mag))
            if opts.relative:
                s /= float(np.hypot(*flow.shape[:2]))
            self._scores.append(s)
        self._prev = gray

    def result(self) -> tuple[float | None, int]:
        """``(mean, pairs)``; ``(None, 0)`` with fewer than two frames."""
        return (float(np.mean(self._scores)), len(self._scores)) if self._scores else (None, 0)


def score_frames(frames: Iterable[np.ndarray], opts: MotionOptions) -> tuple[float | None, int]:
    """Mean flow magnitude over consecutive BGR frames; ``(None, 0)`` with fewer than two."""
    scorer = FlowScorer(opts)
    for frame in frames:
        scorer.push(frame)
    return scorer.result()


def count_frames(container: Any) -> int:
    """Video packets with data (Data-Juicer's frame count), by demuxing; the container is seeked back to 0."""
    video = container.streams.video[0]
    total = sum(1 for p in container.demux(video) if p.size)
    container.seek(0)
    return total


class MotionConsumer:
    """The motion score from another pass's decode (a ``scenes.split`` frame tap): the frames
    Data-Juicer's loop reads are picked as they pass, so the video is decoded once for both."""

    def __init__(self, opts: MotionOptions) -> None:
        self._scorer = FlowScorer(opts)
        self._opts = opts
        self._want: list[int] = []
        self._next = 0

    def prepare(self, container: Any, frames: Any) -> None:
        total = count_frames(container)
        self._want = read_indices(total, sampling_step(float(frames.fps), self._opts.sampling_fps, total))

    def wants(self, index: int, key: bool) -> bool:
        return self._next < len(self._want) and self._want[self._next] == index

    def __call__(self, index: int, pts: int, key: bool, bgr: np.ndarray) -> None:
        while self._next < len(self._want) and self._want[self._next] == index:
            self._scorer.push(bgr)
            self._next += 1

    def result(self) -> tuple[float | None, int]:
        return self._scorer.result()


def _picked(container: Any, want: list[int]) -> Iterator[np.ndarray]:
    video = container.streams.video[0]
    need = sorted(set(want))
    got: dict[int, np.ndarray] = {}
    j = 0
    for i, frame in enumerate(container.decode(video)):
        if j < len(need) and i == need[j]:
            got[i] = frame.to_ndarray(format="bgr24")
            j += 1
            if j == len(need):
                break
    for i in want:
        if i not in got:
            return  # a read past the decodable frames ends the loop, as cv2's read() failing does
        yield got[i]


def _window_frames(container: Any, video: Any, window: Window, sampling_fps: float, fps: float) -> Iterator[np.ndarray]:
    """The frames Data-Juicer's loop reads from the clip ``window``, in its order (ends at a missing one)."""
    pts, keys = timestamps(container)
    span = window_span(pts, video.start_time or 0, Fraction(video.time_base), window)
    if span[0] >= span[1]:
        raise SplitError(ClipReason.DECODE_ERROR, f"no frame in the clip window [{window.start_s}, {window.end_s}) s")
    want = window_read_indices(span, fps, sampling_fps)
    got = decode_from_keyframe(container, video, pts, keys, want)
    for i in want:
        if pts[i] not in got:
            return
        yield got[pts[i]]


def motion_score(av: Any, stream: BinaryIO, opts: MotionOptions, window: Window | None = None) -> tuple[float | None, int]:
    """``(score, pairs)`` of one video (of its clip ``window`` when given); score None when fewer
    than two frames decode.

    Raises:
        SplitError: not a video, not openable, nothing decodes, or no frame lies in ``window``.
    """
    container = _open(av, stream)
    with container:
        video = container.streams.video[0]
        try:
            rate = video.average_rate or video.guessed_rate
            fps = float(Fraction(rate)) if rate else 0.0
            if window is not None:
                return score_frames(_window_frames(container, video, window, opts.sampling_fps, fps), opts)
            total = count_frames(container)
            want = read_indices(total, sampling_step(fps, opts.sampling_fps, total))
            return score_frames(_picked(container, want), opts)
        except av.FFmpegError as err:
            raise SplitError(ClipReason.DECODE_ERROR, f"decode failed: {type(err).__name__}: {err}") from err
