"""Sampled RGB frames of one row's video, for the per-frame models (``vid_ocr``, ``vid_aesthetic``, ``vid_caption``).

The frames are picked by the shared rule in :mod:`spark_mm.video.frames` (Data-Juicer's
``extract_video_frames_uniformly``: ``uniform(n)`` target times, the same as ``vid_nsfw`` uses; or
``keyframes``, its ``extract_key_frames``).
This module adds what a row-level scorer needs around it: the row's payload or reference opened,
RGB frames, and every bad input turned into a :class:`FrameProblem` instead of an exception.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from spark_mm.errors import MissingDependency
from spark_mm.sources.video_bytes import PayloadRefError, open_video
from spark_mm.video import frames
from spark_mm.video.scenes import SplitError

_INSTALL = "video frame sampling needs PyAV: pip install 'spark-mm[video]' (or pip install av)"


class FrameProblem(str, enum.Enum):
    """Why a row has no frames."""

    MISSING_INPUT = "missing_input"  # neither a payload nor a payload reference
    DECODE_ERROR = "decode_error"  # not a video, or FFmpeg cannot decode it
    UNREADABLE_REFERENCE = "unreadable_reference"  # the referenced file is gone or shorter


@dataclass
class Frames:
    """The sampled frames (``(H, W, 3)`` uint8 RGB) and their times in seconds, or why there are none."""

    images: list[np.ndarray]
    seconds: list[float]
    problem: FrameProblem | None = None
    message: str | None = None


def _av() -> Any:
    try:
        import av
    except ImportError as err:
        raise MissingDependency(_INSTALL) from err
    av.logging.set_level(av.logging.PANIC)
    return av


def sample_frames(
    payload: bytes | None, uri: str | None, meta: Mapping[str, str] | None, n: int | frames.Sampling, window: frames.Window | None = None
) -> Frames:
    """The frames of a row's video (of its clip ``window`` when given) that ``n`` picks (an int:
    ``uniform(n)``); never raises for bad input.

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
            sampling = n if isinstance(n, frames.Sampling) else frames.Sampling("uniform", n)
            picked = frames.sample(av, stream, sampling, window)
        return Frames([np.ascontiguousarray(f[..., ::-1]) for f in picked.frames], picked.seconds)
    except SplitError as err:
        return Frames([], [], FrameProblem.DECODE_ERROR, str(err))
    except av.FFmpegError as err:  # some are OSError subclasses: FFmpeg's verdict comes first
        return Frames([], [], FrameProblem.DECODE_ERROR, f"{type(err).__name__}: {err}")
    except OSError as err:  # the referenced file failed mid-read
        return Frames([], [], FrameProblem.UNREADABLE_REFERENCE, f"{type(err).__name__}: {err}")
    except Exception as err:  # noqa: BLE001 - one bad file is an error row, never a failed batch
        return Frames([], [], FrameProblem.DECODE_ERROR, f"{type(err).__name__}: {err}")
