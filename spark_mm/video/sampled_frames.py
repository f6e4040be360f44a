"""Uniformly sampled RGB frames of one video, for the per-frame video scorers (``vid_ocr``, ``vid_aesthetic``).

Data-Juicer's ``extract_video_frames_uniformly`` rule for ``n`` frames: 1 → the middle frame,
2 → the first and the last, n > 2 → the first, the last and ``n - 2`` evenly spaced between them.
Data-Juicer places them by timestamp and seeks to the nearest keyframe; here they are placed by
frame index over the demuxed video packets (``round(i * (N - 1) / (n - 1))``), and every frame is
decoded up to the last one picked, so the frame chosen is exact (docs/video.md, deviations).
A video with fewer than ``n`` frames gives each of its frames once.

Interim helper: a shared ``vid_frames`` stage is being added separately; the two are to be
unified, and this module then goes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from spark_mm.errors import MissingDependency
from spark_mm.sources.video_bytes import PayloadRefError, open_video

_INSTALL = "video frame sampling needs PyAV: pip install 'spark-mm[video]' (or pip install av)"


class FrameProblem(str, enum.Enum):
    """Why a row has no frames."""

    MISSING_INPUT = "missing_input"  # neither a payload nor a payload reference
    DECODE_ERROR = "decode_error"  # not a video, or FFmpeg cannot decode it
    UNREADABLE_REFERENCE = "unreadable_reference"  # the referenced file is gone or shorter


@dataclass
class Frames:
    """The sampled frames (``(H, W, 3)`` uint8 RGB) and their indices, or why there are none."""

    images: list[np.ndarray]
    indices: list[int]
    problem: FrameProblem | None = None
    message: str | None = None


def uniform_indices(total: int, n: int) -> list[int]:
    """Data-Juicer's uniform pick of ``n`` of ``total`` frames, as frame indices.

    >>> uniform_indices(36, 1), uniform_indices(36, 2), uniform_indices(36, 3), uniform_indices(2, 3)
    ([18], [0, 35], [0, 18, 35], [0, 1])
    """
    if total <= 0:
        return []
    if n == 1:
        return [total // 2]
    picks = [round(i * (total - 1) / (n - 1)) for i in range(n)]
    return sorted(dict.fromkeys(picks))


def _av() -> Any:
    try:
        import av
    except ImportError as err:
        raise MissingDependency(_INSTALL) from err
    av.logging.set_level(av.logging.PANIC)
    return av


def sample_frames(payload: bytes | None, uri: str | None, meta: Mapping[str, str] | None, n: int) -> Frames:
    """``n`` uniformly sampled frames of a row's video; never raises for bad input.

    Raises:
        MissingDependency: PyAV is not installed.
    """
    av = _av()
    try:
        stream = open_video(payload, uri, meta)
    except PayloadRefError as err:
        return Frames([], [], FrameProblem.UNREADABLE_REFERENCE, str(err))
    if stream is None:
        return Frames([], [], FrameProblem.MISSING_INPUT)
    try:
        with stream:
            with av.open(stream, mode="r") as container:
                if not container.streams.video:
                    return Frames([], [], FrameProblem.DECODE_ERROR, "no video stream")
                video = container.streams.video[0]
                total = sum(1 for p in container.demux(video) if p.size)
                wanted = uniform_indices(total, n)
                stream.seek(0)
            with av.open(stream, mode="r") as container:
                images: list[np.ndarray] = []
                got: list[int] = []
                want = set(wanted)
                last = max(wanted, default=-1)
                for i, frame in enumerate(container.decode(video=0)):
                    if i in want:
                        images.append(frame.to_ndarray(format="rgb24"))
                        got.append(i)
                    if i >= last:
                        break
        if not images:
            return Frames([], [], FrameProblem.DECODE_ERROR, "no decodable video frames")
        return Frames(images, got)
    except av.FFmpegError as err:  # some are OSError subclasses: FFmpeg's verdict comes first
        return Frames([], [], FrameProblem.DECODE_ERROR, f"{type(err).__name__}: {err}")
    except OSError as err:  # the referenced file failed mid-read
        return Frames([], [], FrameProblem.UNREADABLE_REFERENCE, f"{type(err).__name__}: {err}")
    except Exception as err:  # noqa: BLE001 - one bad file is an error row, never a failed batch
        return Frames([], [], FrameProblem.DECODE_ERROR, f"{type(err).__name__}: {err}")
