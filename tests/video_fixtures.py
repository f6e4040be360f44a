"""Small videos encoded by PyAV itself, so video tests need no third-party files.

Each is a few frames of a moving gradient (so encoders emit real P-frames), optionally with a
silent audio track. ``truncated`` and ``garbage`` give the broken inputs the tests need.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from fractions import Fraction

import numpy as np

# (container, video codec, audio codec or None): every encoder here ships in PyAV's wheel
KINDS: dict[str, tuple[str, str, str | None]] = {
    "mp4": ("mp4", "libx264", "aac"),
    "mp4v": ("mp4", "mpeg4", None),
    "webm": ("webm", "libvpx-vp9", "libopus"),
    "mkv": ("matroska", "mpeg4", None),
    "mov": ("mov", "libx264", None),
}


def encode(
    kind: str = "mp4", *, frames: int = 48, fps: int = 12, size: tuple[int, int] = (64, 48), gop: int = 12, noise_px: int = 0, faststart: bool = False
) -> bytes:
    """A ``frames``-frame video of ``size`` (w, h) at ``fps``, keyframe every ``gop`` frames.

    ``noise_px`` > 0 adds a random block per frame, which makes the file larger (for size caps).
    ``faststart`` (MP4) puts the index before the media, so a truncated copy still opens.
    """
    import av

    fmt, vcodec, acodec = KINDS[kind]
    w, h = size
    rng = np.random.default_rng(0)
    if faststart:  # the muxer rewrites the file to move the index: it needs a real file
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "v.mp4")
            _write(av, path, fmt, vcodec, acodec, frames, fps, w, h, gop, noise_px, rng, {"movflags": "faststart"})
            with open(path, "rb") as fh:
                return fh.read()
    buf = io.BytesIO()
    _write(av, buf, fmt, vcodec, acodec, frames, fps, w, h, gop, noise_px, rng, {})
    return buf.getvalue()


def _write(av, target, fmt, vcodec, acodec, frames, fps, w, h, gop, noise_px, rng, options) -> None:  # type: ignore[no-untyped-def]
    with av.open(target, "w", format=fmt, options=options) as out:
        video = out.add_stream(vcodec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.gop_size = gop
        audio = out.add_stream(acodec, rate=48000) if acodec else None
        for i in range(frames):
            x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
            pixels = np.broadcast_to((x + 8 * i) % 256, (h, w, 3)).astype(np.uint8).copy()
            if noise_px:
                pixels[:noise_px, :noise_px] = rng.integers(0, 255, (min(noise_px, h), min(noise_px, w), 3), dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            n = 1024 if acodec == "aac" else 960
            pts = 0
            for _ in range(int(48000 * frames / fps) // n):
                frame = av.AudioFrame.from_ndarray(np.zeros((1, n), np.float32), format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 48000, pts, Fraction(1, 48000)
                pts += n
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)


def truncated(data: bytes, fraction: float = 0.5) -> bytes:
    """The first ``fraction`` of ``data``."""
    return data[: int(len(data) * fraction)]


GARBAGE = bytes(range(256)) * 16


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A tar archive (ustar) of ``(name, data)`` members, in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def encode_cuts(
    segments: list[tuple[tuple[int, int, int] | str, int]], *, fps: int = 12, size: tuple[int, int] = (64, 48), gop: int = 250, kind: str = "mp4"
) -> bytes:
    """A video of hard cuts: each ``(colour or "noise", frames)`` segment in turn, ``kind`` as in ``KINDS``.

    A colour is an RGB solid; ``"noise"`` is a still of seeded uniform noise (one image for the
    segment, a new one for each noise segment). ``gop`` 250 leaves keyframes to the encoder's own
    scene-cut detection (libx264) or the first frame (mpeg4).
    """
    import av

    fmt, vcodec, _ = KINDS[kind]
    w, h = size
    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        video = out.add_stream(vcodec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.gop_size = gop
        for fill, n in segments:
            pixels = np.empty((h, w, 3), np.uint8)
            pixels[:] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if fill == "noise" else fill
            for _ in range(n):
                for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                    out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return buf.getvalue()


def encode_square(*, frames: int = 24, fps: int = 12, size: tuple[int, int] = (64, 48), speed_px: int = 2, kind: str = "mp4", gop: int = 12) -> bytes:
    """A white 12x12 square moving ``speed_px`` px right per frame on grey (``speed_px`` 0: a still video)."""
    import av

    fmt, vcodec, _ = KINDS[kind]
    w, h = size
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        video = out.add_stream(vcodec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.gop_size = gop
        for i in range(frames):
            pixels = np.full((h, w, 3), 96, np.uint8)
            x = 4 + (i * speed_px) % (w - 20)
            pixels[h // 2 - 6 : h // 2 + 6, x : x + 12] = 255
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return buf.getvalue()


def smooth_image(seed: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """An RGB still of smooth random shapes (a 6x5 random field, bicubically enlarged): a "shot"
    whose pHash survives re-encoding and differs from other seeds' by many bits."""
    import cv2

    w, h = size
    small = np.random.default_rng(seed).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def encode_shots(shots: list[tuple[np.ndarray, int]], *, fps: int = 12, gop: int = 250, kind: str = "mp4") -> bytes:
    """A video of ``(RGB still, frames)`` shots back to back (hard cuts), ``kind`` as in ``KINDS``."""
    import av

    fmt, vcodec, _ = KINDS[kind]
    h, w = shots[0][0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        video = out.add_stream(vcodec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.gop_size = gop
        for pixels, n in shots:
            for _ in range(n):
                for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                    out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return buf.getvalue()


def encode_still_then_moving(
    *, still: int = 24, moving: int = 24, fps: int = 12, size: tuple[int, int] = (64, 48), speed_px: int = 3, gop: int = 12, kind: str = "mp4"
) -> bytes:
    """A still shot (``smooth_image(1)``), a hard cut, then a white 12x12 square moving ``speed_px``
    px right per frame over ``smooth_image(2)``: two clips whose motion differs (clip-level signals)."""
    import av

    fmt, vcodec, _ = KINDS[kind]
    w, h = size
    first, second = smooth_image(1, size), smooth_image(2, size)
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        video = out.add_stream(vcodec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.gop_size = gop
        for i in range(still + moving):
            if i < still:
                pixels = first
            else:
                pixels = second.copy()
                x = 4 + ((i - still) * speed_px) % (w - 20)
                pixels[h // 2 - 6 : h // 2 + 6, x : x + 12] = 255
            for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return buf.getvalue()
