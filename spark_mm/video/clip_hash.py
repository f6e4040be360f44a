"""The pHash of a clip's middle keyframe, for clip dedup (``clip_phash`` in ``video_clips``).

**Which frame.** A clip ``[start_frame, end_frame)`` with temporal midpoint
``m = (start_s + end_s) / 2`` is hashed at its *middle keyframe*: of the keyframes inside the
clip, the one whose start time is nearest ``m`` (a tie goes to the earlier). A clip with no
keyframe inside is hashed at its *middle frame* instead, by the same rule over all its frames;
at a constant frame rate that is frame ``start_frame + (end_frame - start_frame) // 2``.
:func:`pick_frame` is the rule.

**The hash** is the project's pHash kernel (``img_signals_pixels``, ``mode="exact"``) on the
frame's RGB pixels: ``int(str(imagehash.phash(Image.fromarray(rgb))), 16)`` as a signed int64,
the value ``img_phash`` holds for an image, so clip dedup has image pHash's Hamming semantics.

**One decode.** :class:`KeyframeHashes` is a :class:`~spark_mm.video.scenes.FrameTap` on the
clips step's single decode: it hashes every keyframe as it passes and keeps only the 64-bit
hashes (a long 1080p video has hundreds of keyframes; no frame is kept). Once the bounds are
known, each clip takes its middle keyframe's hash. Only the clips without a keyframe inside need
pixels the first pass did not keep; :func:`hash_frames` decodes just those frames afterwards,
seeking to the keyframe before each. Nothing here imports pyspark.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

from spark_mm.video.scenes import Frames, _open


def phash_bgr(bgr: np.ndarray) -> int | None:
    """imagehash's pHash of one BGR frame as a signed int64 (None if the kernel refuses it)."""
    import cv2

    from spark_mm import _native

    h, w = bgr.shape[:2]
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # 1 ms at 1080p; numpy's [..., ::-1] copy is 20x slower
    offsets = pa.array([0, rgb.nbytes], pa.int32()).buffers()[1]
    pixels = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(rgb)])  # no copy
    out = pa.array(
        _native.img_signals_pixels(
            pixels, pa.array([w], pa.int32()), pa.array([h], pa.int32()), pa.array([3], pa.int32()),
            mode="exact", quality=False, degradations=False, hashes=True,
        )
    )
    return out.field("img_phash")[0].as_py()


class KeyframeHashes:
    """Frame tap: the pHash of every keyframe (or of the frames named in ``frames``), by frame index."""

    def __init__(self, frames: Sequence[int] | None = None) -> None:
        self.only = frozenset(frames) if frames is not None else None
        self.hashes: dict[int, int | None] = {}

    def prepare(self, container: Any, frames: Frames) -> None:
        return None

    def wants(self, index: int, key: bool) -> bool:
        return key if self.only is None else index in self.only

    def __call__(self, index: int, pts: int, key: bool, bgr: Any) -> None:
        self.hashes[index] = phash_bgr(bgr)


def pick_frame(frames: Frames, start: int, end: int) -> tuple[int, bool]:
    """``(frame index, is a keyframe)`` a clip ``[start, end)`` is hashed at (module docstring).

    >>> from fractions import Fraction
    >>> f = Frames(Fraction(10), Fraction(1, 10), 8, 8, list(range(30)), [i % 10 == 0 for i in range(30)], 30)
    >>> pick_frame(f, 0, 30), pick_frame(f, 5, 25), pick_frame(f, 12, 19), pick_frame(f, 11, 14)
    ((10, True), (10, True), (15, False), (12, False))
    """
    mid = (frames.seconds(start) + frames.seconds(end)) / 2
    keys = [i for i in range(start, end) if frames.keys[i]]
    candidates = keys or list(range(start, end))
    best = min(candidates, key=lambda i: (abs(frames.seconds(i) - mid), i))
    return best, bool(keys)


def hash_frames(av: Any, stream: BinaryIO, frames: Frames, wanted: Sequence[int]) -> tuple[dict[int, int | None], int]:
    """pHash of the frames ``wanted`` (indices of ``frames``), and how many frames this decoded.

    Decodes forward from the keyframe at or before each wanted frame (seeking there when it lies
    past the current position); frames are matched by pts, and a seek that lands past its target
    falls back to decoding from the start. A decode failure leaves the rest unhashed.
    """
    wanted = sorted(set(wanted))
    tap = KeyframeHashes(wanted)
    if not wanted:
        return tap.hashes, 0
    index_of = {p: i for i, p in enumerate(frames.pts)}
    key_frames = [i for i, k in enumerate(frames.keys) if k] or [0]
    decoded = 0
    stream.seek(0)
    container = _open(av, stream)
    with container:
        video = container.streams.video[0]
        start = video.start_time or 0
        try:
            pos, frames_iter, restarted = 0, None, False  # pos: the next frame index the decoder yields
            for target in wanted:
                if target in tap.hashes:
                    continue
                kf = key_frames[max(0, bisect.bisect_right(key_frames, target) - 1)]
                if frames_iter is None or kf > pos:
                    container.seek(int(frames.pts[kf] + start), stream=video, backward=True, any_frame=False)
                    frames_iter = container.decode(video)
                while (frame := next(frames_iter, None)) is not None:
                    decoded += 1
                    index = index_of.get(frame.pts - start) if frame.pts is not None else None
                    if index is None or index > target:  # lost track, or the seek overshot: start over once
                        if restarted:
                            break
                        container.seek(start, stream=video, backward=True, any_frame=False)
                        frames_iter, restarted = container.decode(video), True
                        continue
                    pos = index + 1
                    if tap.wants(index, False) and index not in tap.hashes:
                        tap(index, 0, False, frame.to_ndarray(format="bgr24"))
                    if index >= target:
                        break
        except (av.FFmpegError, ValueError, OSError, EOFError):
            pass
    return tap.hashes, decoded


def clip_hashes(av: Any, stream: BinaryIO, frames: Frames, bounds: Sequence[tuple[int, int]], keyframes: KeyframeHashes) -> list[tuple[int | None, int]]:
    """``(clip_phash, clip_phash_frame)`` per clip bound, from the keyframe tap and, for clips
    without a keyframe inside, one extra partial decode of their middle frames."""
    picks = [pick_frame(frames, s, e) for s, e in bounds]
    extra, _ = hash_frames(av, stream, frames, [i for i, key in picks if not key])
    return [(keyframes.hashes.get(i) if key else extra.get(i), i) for i, key in picks]
