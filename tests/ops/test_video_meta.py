"""vid_meta on videos PyAV encodes itself (mp4/h264+aac, mp4/mpeg4, webm/vp9+opus, mkv, mov), broken
copies and non-video bytes, inline and by reference; and on shared/data/video against Data-Juicer."""

from __future__ import annotations

import io
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from PIL import Image

pytest.importorskip("av")

from spark_mm.ops.base import MISSING_INPUT  # noqa: E402
from spark_mm.ops.video_meta import VidMeta, VidMetaParams, VidMetaReason  # noqa: E402
from spark_mm.sources.video_bytes import reference_meta  # noqa: E402
from tests.video_fixtures import GARBAGE, encode, truncated  # noqa: E402

META = pa.map_(pa.string(), pa.string())


def run(payloads: list[bytes | None], uris: list[str | None] | None = None, metas: list[dict[str, str] | None] | None = None) -> tuple[list[dict[str, Any]], list[str | None]]:
    n = len(payloads)
    batch = pa.RecordBatch.from_pydict(
        {
            "payload": pa.array(payloads, pa.binary()),
            "source_uri": pa.array(uris or [None] * n, pa.string()),
            "record_meta": pa.array([list(m.items()) if m else None for m in (metas or [None] * n)], META),
        }
    )
    result = VidMeta(VidMetaParams()).apply(batch)
    errors = result.errors.to_pylist() if result.errors is not None else [None] * n
    return result.columns.to_pylist(), errors


@pytest.mark.parametrize(
    ("kind", "fmt", "codec", "audio", "counted"),
    [
        ("mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac", False),
        ("mp4v", "mov,mp4,m4a,3gp,3g2,mj2", "mpeg4", None, False),
        ("webm", "matroska,webm", "vp9", "opus", True),
        ("mkv", "matroska,webm", "mpeg4", None, True),
        ("mov", "mov,mp4,m4a,3gp,3g2,mj2", "h264", None, False),
    ],
)
def test_generated_videos(kind: str, fmt: str, codec: str, audio: str | None, counted: bool) -> None:
    data = encode(kind, frames=48, fps=12, size=(64, 48), gop=12)
    (row,), (err,) = run([data])
    assert err is None and row["vid_meta_ok"] is True and row["vid_meta_reason"] is None
    assert (row["vid_format"], row["vid_codec"], row["vid_audio_codec"]) == (fmt, codec, audio)
    assert (row["vid_width"], row["vid_height"]) == (64, 48)
    assert (row["vid_fps"], row["vid_fps_num"], row["vid_fps_den"]) == (12.0, 12, 1)
    assert row["vid_duration_s"] == pytest.approx(4.0, abs=0.01)  # 48 frames at 12 fps
    # MP4/MOV index their frames (nb_frames); Matroska does not, so the 48 packets are counted.
    assert row["vid_frames"] == 48 and row["vid_frames_counted"] is counted
    assert 4 <= row["vid_keyframes"] <= 6  # gop 12 over 48 frames; x264 may add scene-cut keyframes
    assert row["vid_bytes"] == len(data) and row["vid_bit_rate"] > 0


def test_keyframes_follow_the_gop() -> None:
    (row,), _ = run([encode("mp4v", frames=48, gop=6)])
    assert row["vid_keyframes"] == 8  # mpeg4 keeps a strict GOP: 48 / 6


def test_rational_frame_rate() -> None:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        s = out.add_stream("mpeg4", rate=Fraction(30000, 1001))
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(__import__("numpy").full((32, 32, 3), i * 20, "uint8"), format="rgb24")
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    (row,), _ = run([buf.getvalue()])
    assert (row["vid_fps_num"], row["vid_fps_den"]) == (30000, 1001)
    assert row["vid_fps"] == pytest.approx(29.97, abs=0.01)


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


def test_every_reason_code(tmp_path: Path) -> None:
    webm = encode("webm")
    mp4 = encode("mp4")
    faststart = encode("mp4", faststart=True)
    ref = tmp_path / "big.mkv"
    ref.write_bytes(b"HEAD" + encode("mkv"))
    cases: list[tuple[bytes | None, str | None, dict[str, str] | None]] = [
        (webm, None, None),  # ok
        (truncated(mp4), None, None),  # index (moov) at the end: cut off → cannot open
        (truncated(webm), None, None),  # opens; packets stop at half the stated duration
        (truncated(faststart, 0.8), None, None),  # index first: it lists more frames than there are
        (GARBAGE, None, None),
        (b"", None, None),
        (jpeg(), None, None),  # a still image opens in FFmpeg's image demuxers: not a video
        (b"<!doctype html><html></html>", None, None),
        (None, None, None),
        (None, str(ref), reference_meta(4, ref.stat().st_size - 4)),  # reference at an offset (as in a tar)
        (None, ref.as_uri(), reference_meta(4, ref.stat().st_size - 4)),  # file: URI (binaryFile style)
        (None, str(ref), reference_meta(4, ref.stat().st_size)),  # runs past the end
        (None, str(tmp_path / "gone.mp4"), reference_meta(0, 10)),
    ]
    rows, errors = run([c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases])
    reasons = [r["vid_meta_reason"] for r in rows]
    R = VidMetaReason
    assert reasons == [
        None, R.DECODE_ERROR, R.TRUNCATED, R.TRUNCATED, R.NOT_VIDEO, R.NOT_VIDEO, R.NOT_VIDEO, R.NOT_VIDEO,
        R.MISSING_INPUT, None, None, R.UNREADABLE_REFERENCE, R.UNREADABLE_REFERENCE,
    ]
    assert {r.value for r in R} == {x for x in reasons if x} and R.MISSING_INPUT.value == MISSING_INPUT
    assert [r["vid_meta_ok"] for r in rows] == [x is None for x in reasons]
    # errors only for broken files and references; not_video / missing_input are reasons alone
    assert [e is not None for e in errors] == [False, True, True, True, False, False, False, False, False, False, False, True, True]
    assert "moov atom not found" in errors[1]
    assert re.fullmatch(r"video packets end at \d\.\d{3} s of a stated 4\.008 s", errors[2]), errors[2]
    assert re.fullmatch(r"container reports 48 video frames; \d+ packets demuxed", errors[3]), errors[3]
    assert "runs past the end" in errors[11] and "gone.mp4" in errors[12]
    # truncated rows keep what was read; the referenced video reads like the inline one
    assert rows[2]["vid_codec"] == "vp9" and rows[2]["vid_frames"] < 48
    assert rows[3]["vid_frames"] == 48 and rows[3]["vid_width"] == 64
    assert rows[9]["vid_codec"] == rows[10]["vid_codec"] == "mpeg4" and rows[9]["vid_frames"] == 48
    assert rows[4]["vid_format"] is None and rows[8]["vid_bytes"] is None


def test_missing_pyav_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from spark_mm.errors import MissingDependency

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "av" else real(name, *a))
    with pytest.raises(MissingDependency, match=r"pip install 'spark-mm\[video\]'"):
        VidMeta(VidMetaParams())


def test_recipe_accepts_vid_meta() -> None:
    from spark_mm import recipe as recipes

    loaded = recipes.from_mapping(
        {"job": "v", "namespace": "v", "source": {"type": "video_files", "path": "/x", "inline_max_bytes": 1024},
         "stages": [{"name": "meta", "ops": [{"op": "vid_meta"}]}]}
    )
    assert loaded.recipe.stages[0].ops[0].op == "vid_meta"
    assert loaded.recipe.source.inline_max_bytes == 1024


# Data-Juicer's tests/ops/filter/test_video_resolution_filter.py and test_video_duration_filter.py:
# video1 640x360 "about 12s", video2 480x640 "about 23s", video3 362x640 "about 50s"; its
# video_duration_filter computes round(stream.duration * stream.time_base).
DJ = {"dj_video1.mp4": (640, 360, 12), "dj_video2.mp4": (480, 640, 23), "dj_video3.mp4": (362, 640, 50)}


def test_shared_videos_match_pyav_and_data_juicer(shared_data: Path) -> None:
    import av

    files = sorted((shared_data / "video").glob("dj_video*.mp4"))
    if not files:
        pytest.skip("no dj_video*.mp4 in shared data")
    rows, errors = run([f.read_bytes() for f in files])
    assert errors == [None] * len(files)
    for f, row in zip(files, rows):
        with av.open(str(f)) as c:  # the values ffprobe prints, read straight from PyAV
            v = c.streams.video[0]
            want = {
                "vid_format": c.format.name, "vid_codec": v.codec_context.name, "vid_width": v.width, "vid_height": v.height,
                "vid_fps_num": v.average_rate.numerator, "vid_fps_den": v.average_rate.denominator,
                "vid_duration_s": float(v.duration * v.time_base), "vid_frames": v.frames, "vid_bit_rate": c.bit_rate,
                "vid_audio_codec": c.streams.audio[0].codec_context.name if c.streams.audio else None,
                "vid_bytes": f.stat().st_size,
            }
            keys = sum(1 for p in c.demux(v) if p.size and p.is_keyframe)
        assert {k: row[k] for k in want} == want, f.name
        assert row["vid_keyframes"] == keys and row["vid_frames_counted"] is False
        if f.name in DJ:
            w, h, seconds = DJ[f.name]
            assert (row["vid_width"], row["vid_height"], round(row["vid_duration_s"])) == (w, h, seconds), f.name
