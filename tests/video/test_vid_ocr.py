"""vid_ocr on tiny videos made here: white frames with large rendered text vs blank frames, through
RapidOCR's packaged PP-OCR detection model (no download), Data-Juicer's area-ratio rule and reasons."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("av")
pytest.importorskip("rapidocr")

from spark_mm.ops.video_ocr import VidOcr, VidOcrParams, VidOcrReason, area_ratio  # noqa: E402
from spark_mm.video.sampled_frames import sample_frames  # noqa: E402
from tests.video_fixtures import GARBAGE  # noqa: E402

W, H, FPS = 64, 48, 12


def _video(text: str | None, frames: int = FPS) -> bytes:
    """A 1 s 64x48 H.264 MP4 of white frames, with ``text`` in black in Pillow's default font at 16 px."""
    import av
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (W, H), "white")
    if text:
        ImageDraw.Draw(img).text((2, 12), text, fill="black", font=ImageFont.load_default(size=16))
    pixels = np.asarray(img)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for _ in range(frames):
            for packet in s.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return buf.getvalue()


@pytest.fixture(scope="module")
def op() -> VidOcr:
    return VidOcr(VidOcrParams())


def test_uniform_sampling_follows_data_juicer() -> None:
    """The shared rule (spark_mm/video/frames.py, pinned in tests/video/test_frames.py): targets
    0, d/2, d for uniform(3); the target d lies past the last frame and gives the last one."""
    frames = sample_frames(_video(None), None, None, 3)
    assert frames.problem is None and frames.seconds == pytest.approx([0.0, 0.5, 11 / FPS]) and frames.images[0].shape == (H, W, 3)
    assert frames.images[0].dtype == np.uint8 and frames.images[0].mean() > 250  # white, in RGB
    assert sample_frames(b"not a video at all", None, None, 3).problem is not None


def test_area_ratio_sums_boxes_over_frame_area() -> None:
    box = np.array([[0, 0], [32, 0], [32, 24], [0, 24]], dtype=float)  # a quarter of the frame
    assert area_ratio(np.stack([box]), H, W) == pytest.approx(0.25)
    assert area_ratio(np.stack([box, box]), H, W) == pytest.approx(0.5)  # overlaps count twice, as in Data-Juicer
    assert area_ratio(None, H, W) == 0.0


def test_text_video_has_a_ratio_and_blank_has_none(op: VidOcr) -> None:
    batch = pa.RecordBatch.from_pydict({"payload": [_video("HELLO"), _video(None), None, GARBAGE]})
    out = op.apply(batch).columns
    ratio = out.column("vid_ocr_area_ratio").to_pylist()
    assert 0.1 < ratio[0] < 1.0  # the 16 px word spans most of the 64 px width
    assert ratio[1] == 0.0 and ratio[2] is None and ratio[3] is None
    assert out.column("vid_ocr_ok").to_pylist() == [True, True, False, False]
    assert out.column("vid_ocr_reason").to_pylist() == [None, None, VidOcrReason.MISSING_INPUT.value, VidOcrReason.DECODE_ERROR.value]


def test_bounds_and_reasons(op: VidOcr) -> None:
    batch = pa.RecordBatch.from_pydict({"payload": [_video("HELLO"), _video(None)]})
    strict = VidOcr(VidOcrParams(min_area_ratio=0.01, max_area_ratio=0.05))
    strict._engine = op.engine  # same detector, other bounds
    out = strict.apply(batch).columns
    assert out.column("vid_ocr_reason").to_pylist() == [VidOcrReason.TOO_MUCH_TEXT.value, VidOcrReason.TOO_LITTLE_TEXT.value]
    assert out.column("vid_ocr_ok").to_pylist() == [False, False]
