"""Frame sampling shared by the per-video operators (``vid_nsfw``, ``vid_ocr``, ``vid_aesthetic``; ``vid_motion`` reads Data-Juicer's own stride).

Two ways to pick frames, the two Data-Juicer's video operators offer (``frame_sampling_method``):

* ``keyframes``: every frame the container flags as a keyframe, decoded with the decoder's
  ``skip_frame = NONKEY`` as Data-Juicer's ``extract_key_frames`` does; a video without one gives
  its first frame.
* ``uniform(n)``: Data-Juicer's ``extract_video_frames_uniformly`` rule. ``n`` is capped at the
  frame count. The target times are ``[d / 2]`` for ``n = 1`` and ``[i · d / (n − 1)]`` for
  ``i = 0 … n − 1`` otherwise, with ``d`` the video stream's ``duration × time_base`` (exact
  fractions). Targets are grouped by the keyframe interval they fall in (0.0 counts as a
  keyframe); each group is searched from its keyframe for the first frame whose raw ``pts`` is
  ``>= target / time_base``, one target per frame, and a group whose targets run past the last
  frame gets the last frame once (so the target ``d`` itself yields the last frame).

:func:`uniform_seconds` and :func:`uniform_indices` are the rule on numbers alone; :func:`sample`
applies it to an open container in two passes (demux for timestamps, then decode only what is
picked); :func:`frames_at` decodes given frame indices the same way (the report's keyframe thumbnails).

**Clip windows.** :func:`sample` takes an optional :class:`Window` ``[start_s, end_s)`` (a clip of
``video_clips``, seconds from the stream's first frame) and applies the rule to the window as if
the clip were the video, as Data-Juicer scoring a clip file does: the frames are those whose time
lies in the window (:func:`window_span`); the window's first frame counts as a keyframe (a clip
file starts on one); the duration runs from that frame to the first frame after the window (the
stream's duration for the last clip); picks are indices into the whole video
(:func:`window_uniform_indices`, :func:`window_keyframe_indices`). Decoding seeks to the keyframe
at or before the window. docs/video.md lists where this differs from Data-Juicer. Nothing here
imports pyspark.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO

from spark_mm.video.scenes import ClipReason, SplitError, _open
from spark_mm.video.window import Window, window_span


_UNIFORM = re.compile(r"^uniform\((\d+)\)$")


@dataclass(frozen=True)
class Sampling:
    """``keyframes`` or ``uniform(n)``, parsed from a recipe string."""

    method: str  # "keyframes" | "uniform"
    n: int = 0

    @classmethod
    def parse(cls, text: str) -> Sampling:
        """``"keyframes"`` or ``"uniform(<n >= 1>)"``; raises ``ValueError`` naming the accepted forms."""
        t = text.strip()
        if t == "keyframes":
            return cls("keyframes")
        m = _UNIFORM.match(t.replace(" ", ""))
        if m and int(m.group(1)) >= 1:
            return cls("uniform", int(m.group(1)))
        raise ValueError(f"frames: {text!r}: expected 'keyframes' or 'uniform(n)' with n >= 1")

    def __str__(self) -> str:
        return self.method if self.method == "keyframes" else f"uniform({self.n})"


def uniform_seconds(duration: Fraction, n: int) -> list[Fraction]:
    """Data-Juicer's target times for ``n`` uniform frames over ``duration`` seconds.

    >>> [float(s) for s in uniform_seconds(Fraction(4), 3)]
    [0.0, 2.0, 4.0]
    >>> [float(s) for s in uniform_seconds(Fraction(4), 1)]
    [2.0]
    """
    if n <= 0:
        return []
    if n == 1:
        return [duration / 2]
    step = duration / (n - 1)
    return [step * i for i in range(n)]


def uniform_indices(pts: Sequence[int], keys: Sequence[bool], time_base: Fraction, duration: Fraction, n: int) -> list[int]:
    """Indices (into ``pts``, presentation order) of the frames ``uniform(n)`` picks.

    ``pts`` are raw frame timestamps in ``time_base`` units, ascending; ``keys`` the keyframe flags.
    Follows Data-Juicer's grouping by keyframe interval literally (see the module docstring).
    """
    total = len(pts)
    n = min(n, total)
    if n <= 0:
        return []
    targets = uniform_seconds(duration, n)
    key_s = sorted(Fraction(p) * time_base for p, k in zip(pts, keys) if k) or [Fraction(pts[0]) * time_base]
    if key_s[0] != 0:
        key_s = [Fraction(0)] + key_s
    groups: list[list[Fraction]]
    if len(key_s) == 1:
        groups = [targets]
    else:
        groups, idx, gid, cur = [], 0, 0, []
        upper = key_s[1]
        while idx < len(targets):
            if targets[idx] < upper:
                cur.append(targets[idx])
                idx += 1
            else:
                groups.append(cur)
                gid += 1
                cur = []
                if gid >= len(key_s) - 1:
                    break
                upper = key_s[gid + 1]
        if cur:
            groups.append(cur)
        if idx < len(targets):
            groups.append(targets[idx:])
    picked: list[int] = []
    for g, group in enumerate(groups):
        if not group:
            continue
        # decoding restarts at the group's keyframe (the first frame for 0.0)
        start_pts = key_s[g] / time_base
        i = 0 if key_s[g] == 0 else next((j for j, p in enumerate(pts) if p >= start_pts), total)
        t = 0
        while i < total and t < len(group):
            if pts[i] >= group[t] / time_base:
                picked.append(i)
                t += 1
            i += 1
        if t < len(group):
            picked.append(total - 1)  # Data-Juicer adds the last decoded frame once
    return picked


def window_uniform_indices(
    pts: Sequence[int], keys: Sequence[bool], time_base: Fraction, duration: Fraction, n: int, span: tuple[int, int], origin: int = 0
) -> list[int]:
    """:func:`uniform_indices` over the frames of ``span`` as if they were the video; indices into ``pts``.

    The window's first frame is time 0 and a keyframe; its duration runs to the first frame after
    it, or to ``duration`` (the whole stream's) for the last clip.

    >>> pts = list(range(0, 20 * 512, 512))  # 20 frames at 2 fps (time base 1/1024), one keyframe
    >>> window_uniform_indices(pts, [True] + [False] * 19, Fraction(1, 1024), Fraction(10), 3, (4, 10))
    [4, 7, 9]
    """
    first, stop = span
    if first >= stop:
        return []
    sub = [p - pts[first] for p in pts[first:stop]]
    end = Fraction(pts[stop] - pts[first]) * time_base if stop < len(pts) else duration - Fraction(pts[first] - origin) * time_base
    keys_in = [True, *keys[first + 1 : stop]]
    return [first + i for i in uniform_indices(sub, keys_in, time_base, max(end, Fraction(0)), n)]


def window_keyframe_indices(keys: Sequence[bool], span: tuple[int, int]) -> list[int]:
    """``keyframes`` over a window: its first frame (a clip file starts on a keyframe) and every keyframe in it.

    >>> window_keyframe_indices([True, False, False, True, False, True], (1, 5))
    [1, 3]
    """
    first, stop = span
    return [i for i in range(first, stop) if i == first or keys[i]]


@dataclass
class Sampled:
    """Frames picked from one video: BGR arrays ``(h, w, 3)`` uint8 and their seconds (raw pts × time base)."""

    frames: list[Any]
    seconds: list[float]
    total_frames: int


def stream_duration(container: Any) -> Fraction | None:
    """The video stream's ``duration × time_base`` (Data-Juicer's), else the container's duration."""
    video = container.streams.video[0]
    if video.duration and video.time_base:
        return Fraction(video.duration) * video.time_base
    if container.duration:
        return Fraction(container.duration, 1_000_000)
    return None


def timestamps(container: Any) -> tuple[list[int], list[bool]]:
    """Raw pts and key flags of every video packet, sorted by pts (presentation order)."""
    video = container.streams.video[0]
    rows = [(int(p.pts), bool(p.is_keyframe)) for p in container.demux(video) if p.size and p.pts is not None]
    rows.sort()
    container.seek(0)
    return [r[0] for r in rows], [r[1] for r in rows]


def sample(av: Any, stream: BinaryIO, sampling: Sampling, window: Window | None = None) -> Sampled:
    """Open ``stream`` and return the frames ``sampling`` picks (within ``window`` when given).

    Raises:
        SplitError: not a video, not openable, no frame decodes (the clips step's reasons), or no
            frame lies in ``window``.
    """
    container = _open(av, stream)
    with container:
        video = container.streams.video[0]
        tb = Fraction(video.time_base)
        try:
            if window is not None:
                return _sample_window(container, video, tb, sampling, window)
            if sampling.method == "keyframes":
                return _keyframes(container, video, tb)
            pts, keys = timestamps(container)
            duration = stream_duration(container)
            if not pts or duration is None:
                raise SplitError(ClipReason.DECODE_ERROR, "no video packets or no duration")
            want = uniform_indices(pts, keys, tb, duration, sampling.n)
            got = _decode_pts(container, video, {pts[i] for i in want})
            frames = [got[pts[i]] for i in want if pts[i] in got]
            secs = [float(pts[i] * tb) for i in want if pts[i] in got]
        except av.FFmpegError as err:
            raise SplitError(ClipReason.DECODE_ERROR, f"decode failed: {type(err).__name__}: {err}") from err
        if not frames:
            raise SplitError(ClipReason.DECODE_ERROR, "no frame decoded")
        return Sampled(frames, secs, len(pts))


def _sample_window(container: Any, video: Any, tb: Fraction, sampling: Sampling, window: Window) -> Sampled:
    """:func:`sample` restricted to ``window`` (see the module docstring)."""
    pts, keys = timestamps(container)
    origin = video.start_time or 0
    span = window_span(pts, origin, tb, window)
    if span[0] >= span[1]:
        raise SplitError(ClipReason.DECODE_ERROR, f"no frame in the clip window [{window.start_s}, {window.end_s}) s")
    if sampling.method == "keyframes":
        want = window_keyframe_indices(keys, span)
    else:
        duration = stream_duration(container)
        if duration is None:
            raise SplitError(ClipReason.DECODE_ERROR, "no duration")
        want = window_uniform_indices(pts, keys, tb, duration, sampling.n, span, origin)
    got = decode_from_keyframe(container, video, pts, keys, want)
    picked = [i for i in want if pts[i] in got]
    if not picked:
        raise SplitError(ClipReason.DECODE_ERROR, "no frame decoded")
    return Sampled([got[pts[i]] for i in picked], [float(pts[i] * tb) for i in picked], span[1] - span[0])


def decode_from_keyframe(container: Any, video: Any, pts: Sequence[int], keys: Sequence[bool], want: Sequence[int]) -> dict[int, Any]:
    """BGR arrays by raw pts of the frames at indices ``want``: seek to the keyframe at or before the
    first of them, decode from there (from the start again if the seek landed past one of them)."""
    if not want:
        return {}
    wanted = {pts[i] for i in want}
    first = min(want)
    key = next((i for i in range(first, -1, -1) if keys[i]), 0)
    if key > 0:
        container.seek(pts[key], stream=video, backward=True, any_frame=False)
        got = _decode_pts(container, video, wanted)
        if len(got) == len(wanted):
            return got
        container.seek(0)
    return _decode_pts(container, video, wanted)


def _decode_pts(container: Any, video: Any, wanted: set[int]) -> dict[int, Any]:
    """BGR arrays of the frames whose raw pts is in ``wanted``, decoding once from where the
    container stands and stopping after the last of them."""
    got: dict[int, Any] = {}
    if not wanted:
        return got
    for frame in container.decode(video):
        if frame.pts in wanted and frame.pts not in got:
            got[frame.pts] = frame.to_ndarray(format="bgr24")
            if len(got) == len(wanted):
                break
    return got


def frames_at(av: Any, stream: BinaryIO, indices: Sequence[int]) -> dict[int, Any]:
    """BGR arrays of the frames at ``indices`` (presentation order, as ``video_clips.clip_phash_frame``
    counts them), by the same two passes as :func:`sample`: demux for timestamps, then decode up to
    the last wanted frame. Indices past the end are left out.

    Raises:
        SplitError: not a video, not openable, or the decode fails (the clips step's reasons).
    """
    container = _open(av, stream)
    with container:
        video = container.streams.video[0]
        try:
            pts, _ = timestamps(container)
            by_pts = {pts[i]: i for i in sorted(set(indices)) if 0 <= i < len(pts)}
            got = _decode_pts(container, video, set(by_pts))
        except av.FFmpegError as err:
            raise SplitError(ClipReason.DECODE_ERROR, f"decode failed: {type(err).__name__}: {err}") from err
    return {by_pts[p]: bgr for p, bgr in got.items()}


def _keyframes(container: Any, video: Any, tb: Fraction) -> Sampled:
    ctx = video.codec_context
    ctx.skip_frame = "NONKEY"
    frames, secs = [], []
    for frame in container.decode(video):
        frames.append(frame.to_ndarray(format="bgr24"))
        secs.append(float((frame.pts or 0) * tb))
    ctx.skip_frame = "DEFAULT"
    if not frames:  # Data-Juicer: no keyframe, return the first frame
        container.seek(0)
        for frame in container.decode(video):
            frames.append(frame.to_ndarray(format="bgr24"))
            secs.append(float((frame.pts or 0) * tb))
            break
    if not frames:
        raise SplitError(ClipReason.DECODE_ERROR, "no frame decoded")
    return Sampled(frames, secs, len(frames))


class KeyframeConsumer:
    """The ``keyframes`` sampling from another pass's decode (a ``scenes.split`` frame tap): every
    frame the decoder flags as a keyframe, with its index; the first frame when there is none."""

    def __init__(self) -> None:
        self.frames: list[Any] = []
        self.indices: list[int] = []
        self._first: Any = None

    def prepare(self, container: Any, frames: Any) -> None:
        return None

    def wants(self, index: int, key: bool) -> bool:
        return key or index == 0

    def __call__(self, index: int, pts: int, key: bool, bgr: Any) -> None:
        if index == 0:
            self._first = bgr
        if key:
            self.frames.append(bgr)
            self.indices.append(index)

    def result(self) -> tuple[list[int], list[Any]]:
        if not self.frames and self._first is not None:
            return [0], [self._first]
        return self.indices, self.frames
