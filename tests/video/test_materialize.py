"""Materialised clips (``clips: {materialize: true}``): cuts on key packets are stream copies whose
frames are the parent's, bit for bit; cuts between keyframes are re-encoded with every frame and
close pixels; the cap and a broken stream give per-clip errors; clip ids do not change."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest

av = pytest.importorskip("av")
pytest.importorskip("cv2")
pytest.importorskip("scenedetect")
pytest.importorskip("skimage")

from spark_mm.sources import sample_videos  # noqa: E402
from spark_mm.video.clips import VIDEOS_SCHEMA, clips_batch  # noqa: E402
from spark_mm.video.materialize import REENCODE, STREAM_COPY, key_packet_pts, materialize  # noqa: E402
from spark_mm.video.scenes import split  # noqa: E402
from spark_mm.video.step import ClipsStep, FixedSplitter  # noqa: E402
from tests.video_fixtures import encode  # noqa: E402


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return sample_videos.build_files()


def _frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_cuts_on_keyframes_are_stream_copies_of_the_parents_frames(files: dict[str, bytes]) -> None:
    for name, fmt in (("cuts.mp4", "mp4"), ("pan_copy.webm", "webm")):
        data = files[name]
        result = split(av, io.BytesIO(data), ClipsStep())
        parent = _frames(data)
        made = materialize(av, io.BytesIO(data), result.frames, result.clips, 1 << 30)
        assert len(made) == len(result.clips) >= 1
        for clip, f in zip(result.clips, made):
            assert (f.method, f.format, f.error) == (STREAM_COPY, fmt, None), (name, clip)
            got = _frames(f.data)  # type: ignore[arg-type]
            want = parent[clip.start_frame:clip.end_frame]
            assert len(got) == len(want) and all((a == b).all() for a, b in zip(got, want)), name
    assert [(c.start_frame, c.end_frame) for c in split(av, io.BytesIO(files["cuts.mp4"]), ClipsStep()).clips] == [(0, 48), (48, 96), (96, 144)]


def test_cuts_between_keyframes_are_reencoded_with_every_frame(files: dict[str, bytes]) -> None:
    data = files["cuts.mp4"]
    step = ClipsStep(splitter=FixedSplitter(clip_len_s=1.3))
    result = split(av, io.BytesIO(data), step)
    keys, _ = key_packet_pts(av, io.BytesIO(data))
    parent = _frames(data)
    made = materialize(av, io.BytesIO(data), result.frames, result.clips, 1 << 30)
    methods = [f.method for f in made]
    assert REENCODE in methods
    for clip, f in zip(result.clips, made):
        want = STREAM_COPY if clip.start_pts in keys and (clip.end_frame == len(result.frames) or clip.end_pts in keys) else REENCODE
        assert f.method == want and f.error is None
        got = _frames(f.data)  # type: ignore[arg-type]
        assert len(got) == clip.end_frame - clip.start_frame
        diff = np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(got, parent[clip.start_frame:clip.end_frame])])
        assert diff < (0.01 if want == STREAM_COPY else 4.0), (clip, diff)  # CRF 18: a few levels of 255


def test_other_codecs_and_the_size_cap() -> None:
    data = encode("mp4v", frames=30)
    result = split(av, io.BytesIO(data), ClipsStep(splitter=FixedSplitter(clip_len_s=0.5)))
    made = materialize(av, io.BytesIO(data), result.frames, result.clips, 1 << 30)
    assert all(f.data for f in made) and sum(len(_frames(f.data)) for f in made) == len(result.frames)  # type: ignore[arg-type]
    capped = materialize(av, io.BytesIO(data), result.frames, result.clips, 100)
    assert all(f.data is None and "over clips.materialize_max_bytes=100" in (f.error or "") for f in capped)


def test_clip_rows_carry_bytes_only_when_asked_and_ids_do_not_change(files: dict[str, bytes]) -> None:
    batch = pa.RecordBatch.from_pydict({"sample_id": ["s1", "s2"], "payload": [files["cuts.mp4"], files["truncated.mp4"]]})
    plain = clips_batch(av, batch, ClipsStep(), "r", "fp").to_pylist()
    made = clips_batch(av, batch, ClipsStep(materialize=True), "r", "fp").to_pylist()
    assert clips_batch(av, batch, ClipsStep(materialize=True), "r", "fp").schema == VIDEOS_SCHEMA
    assert [c["clip_id"] for r in plain for c in r["clips"]] == [c["clip_id"] for r in made for c in r["clips"]]
    assert all(c["clip_bytes"] is None and c["clip_method"] is None for r in plain for c in r["clips"])
    good = made[0]["clips"]
    assert len(good) == 3 and all(c["clip_bytes"] and c["clip_method"] == STREAM_COPY for c in good)
    assert ClipsStep(materialize=True).fingerprint() != ClipsStep().fingerprint()
    assert ClipsStep(materialize=True).splitter_params() == ClipsStep().splitter_params()


def test_overlapping_clips_each_get_their_frames(files: dict[str, bytes]) -> None:
    data = files["cuts.mp4"]
    result = split(av, io.BytesIO(data), ClipsStep(splitter=FixedSplitter(clip_len_s=2.0, clip_stride_s=1.0)))
    assert any(a.end_frame > b.start_frame for a, b in zip(result.clips, result.clips[1:]))  # they overlap
    made = materialize(av, io.BytesIO(data), result.frames, result.clips, 1 << 30)
    for clip, f in zip(result.clips, made):
        assert f.error is None and len(_frames(f.data)) == clip.end_frame - clip.start_frame, (clip, f.method)  # type: ignore[arg-type]
