"""The embedded video sample: short clips made here from scikit-image's CC0 photos, written once.

Each video shows what the video recipe measures, with a known answer:

* ``cuts.mp4``: three 2 s shots of three photos with hard cuts between them (3 scenes; the cuts
  at frames 48 and 96), each shot slowly zooming so it is not a still;
* ``pan.mp4``: a 3 s horizontal pan across a wide photo at 4 px per frame (a steady flow);
* ``pan_copy.webm``: the same pan encoded again as VP9 (the same shot, other bytes: a near
  duplicate for clip dedup);
* ``static.mp4``: 3 s of one photo that never moves (motion 0);
* ``truncated.mp4`` (the first half of ``cuts.mp4``) and ``not_a_video.mp4`` (text bytes): the
  broken inputs every crawl has, which become reasons and error rows, never a failed run.

Nothing third-party is committed: the photos ship in scikit-image's wheel, the encoders in
PyAV's. Files are written under ``<home>/sample/videos/`` into a temporary directory renamed into
place, so a crash never leaves a half-written sample.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from spark_mm.errors import MissingDependency
from spark_mm.paths import home

VERSION = "1"  # bump when a video changes: a new directory, so old runs' files stay intact
WIDTH, HEIGHT, FPS = 320, 240, 24
SHOT_FRAMES = 48  # 2 s at 24 fps
PAN_PX_PER_FRAME = 4
CUT_PHOTOS = ("astronaut.png", "coffee.png", "rocket.jpg")
PAN_PHOTO = "chelsea.png"
STATIC_PHOTO = "camera.png"


def _photo(name: str) -> np.ndarray:
    """One scikit-image photo as an RGB uint8 array."""
    try:
        from PIL import Image

        data = resources.files("skimage.data").joinpath(name).read_bytes()
    except ModuleNotFoundError as err:
        raise MissingDependency("the video sample needs scikit-image's photos: pip install scikit-image") from err
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))


def _zoom(rgb: np.ndarray, frames: int) -> Iterator[np.ndarray]:
    """A slow centre zoom (1.00 to 1.08) over ``frames`` frames: a shot that is not a still."""
    h, w = rgb.shape[:2]
    for i in range(frames):
        scale = 1.0 + 0.08 * i / max(1, frames - 1)
        cw, ch = int(w / scale), int(h / scale)
        left, top = (w - cw) // 2, (h - ch) // 2
        yield _fit(rgb[top : top + ch, left : left + cw], WIDTH, HEIGHT)


def cut_frames() -> Iterator[np.ndarray]:
    for name in CUT_PHOTOS:
        yield from _zoom(_photo(name), SHOT_FRAMES)


def pan_frames(frames: int = 72) -> Iterator[np.ndarray]:
    """A window of WIDTH x HEIGHT sliding right ``PAN_PX_PER_FRAME`` px per frame over the photo."""
    rgb = _photo(PAN_PHOTO)
    strip_w = WIDTH + PAN_PX_PER_FRAME * frames
    strip = _fit(rgb, strip_w, HEIGHT)
    for i in range(frames):
        x = i * PAN_PX_PER_FRAME
        yield np.ascontiguousarray(strip[:, x : x + WIDTH])


def static_frames(frames: int = 72) -> Iterator[np.ndarray]:
    still = _fit(_photo(STATIC_PHOTO), WIDTH, HEIGHT)
    for _ in range(frames):
        yield still


def encode(frames: Iterator[np.ndarray], container: str = "mp4") -> bytes:
    """Encode RGB frames at ``FPS`` (x264 in MP4, VP9 in WebM; one thread, so the bytes are stable)."""
    import av

    codec = {"mp4": "libx264", "webm": "libvpx-vp9"}[container]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.gop_size = FPS  # a keyframe every second
        stream.codec_context.options = {"threads": "1"}
        for rgb in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    return buf.getvalue()


def build_files() -> dict[str, bytes]:
    """Every sample file, name to bytes."""
    cuts = encode(cut_frames())
    return {
        "cuts.mp4": cuts,
        "pan.mp4": encode(pan_frames()),
        "pan_copy.webm": encode(pan_frames(), "webm"),
        "static.mp4": encode(static_frames()),
        "truncated.mp4": cuts[: len(cuts) // 2],
        "not_a_video.mp4": b"this is a text file with a video's name\n" * 8,
    }


def sample_dir() -> Path:
    """Where the video sample lives: always under the project home."""
    return home() / "sample" / f"videos-v{VERSION}"


def ensure_sample_videos() -> Path:
    """Write the sample videos under the project home if they are not there yet; return the directory."""
    target = sample_dir()
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        for name, data in build_files().items():
            (tmp / name).write_bytes(data)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # another process won the race: keep its files
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
