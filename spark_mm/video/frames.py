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
docs/video.md lists where this differs from Data-Juicer. Nothing here imports pyspark.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO

from spark_mm.video.scenes import ClipReason, SplitError, _open

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


def _timestamps(container: Any) -> tuple[list[int], list[bool]]:
    """Raw pts and key flags of every video packet, sorted by pts (presentation order)."""
    video = container.streams.video[0]
    rows = [(int(p.pts), bool(p.is_keyframe)) for p in container.demux(video) if p.size and p.pts is not None]
    rows.sort()
    container.seek(0)
    return [r[0] for r in rows], [r[1] for r in rows]


def sample(av: Any, stream: BinaryIO, sampling: Sampling) -> Sampled:
    """Open ``stream`` and return the frames ``sampling`` picks.

    Raises:
        SplitError: not a video, not openable, or no frame decodes (the clips step's reasons).
    """
    container = _open(av, stream)
    with container:
        video = container.streams.video[0]
        tb = Fraction(video.time_base)
        try:
            if sampling.method == "keyframes":
                return _keyframes(container, video, tb)
            pts, keys = _timestamps(container)
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


def _decode_pts(container: Any, video: Any, wanted: set[int]) -> dict[int, Any]:
    """BGR arrays of the frames whose raw pts is in ``wanted``, decoding once from the start and
    stopping after the last of them."""
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
            pts, _ = _timestamps(container)
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
