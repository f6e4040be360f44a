"""One decode for scenes, motion and keyframes: the frame taps of ``scenes.split`` give what the
separate passes give (motion_score, frames.sample keyframes, split without taps), on videos
made here and on the embedded sample, whose answers are known (cuts, a pan, a still)."""

from __future__ import annotations

import io

import pytest

av = pytest.importorskip("av")
pytest.importorskip("cv2")
pytest.importorskip("scenedetect")
pytest.importorskip("skimage")

from spark_mm.sources import sample_videos  # noqa: E402
from spark_mm.video.frames import KeyframeConsumer, Sampling, sample  # noqa: E402
from spark_mm.video.motion import MotionConsumer, MotionOptions, motion_score  # noqa: E402
from spark_mm.video.scenes import split  # noqa: E402
from spark_mm.video.step import ClipsStep, FixedSplitter  # noqa: E402
from tests.video_fixtures import encode, encode_square  # noqa: E402


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return sample_videos.build_files()


def one_pass(data: bytes, opts: MotionOptions = MotionOptions(), step: ClipsStep = ClipsStep()):  # type: ignore[no-untyped-def]
    motion, keys = MotionConsumer(opts), KeyframeConsumer()
    result = split(av, io.BytesIO(data), step, (motion, keys))
    return result, motion.result(), keys.result()


@pytest.mark.parametrize("name", ["cuts.mp4", "pan.mp4", "static.mp4"])
def test_consumers_equal_the_separate_passes(files: dict[str, bytes], name: str) -> None:
    data = files[name]
    result, motion, (key_idx, key_frames) = one_pass(data)
    assert result.scenes == split(av, io.BytesIO(data), ClipsStep()).scenes
    assert motion == motion_score(av, io.BytesIO(data), MotionOptions())
    alone = sample(av, io.BytesIO(data), Sampling.parse("keyframes"))
    assert len(key_frames) == len(alone.frames) and all((a == b).all() for a, b in zip(key_frames, alone.frames))
    assert key_idx == [i for i, k in enumerate(result.frames.keys) if k]


def test_consumers_on_a_fixed_splitter_and_other_codecs() -> None:
    for data in (encode("mp4v", frames=30), encode("webm", frames=30), encode_square(frames=24, speed_px=1)):
        result, motion, (key_idx, _) = one_pass(data, step=ClipsStep(splitter=FixedSplitter(clip_len_s=1.0)))
        assert motion == motion_score(av, io.BytesIO(data), MotionOptions())
        assert key_idx and key_idx[0] == 0 and len(result.frames) >= 24


def test_the_sample_has_the_answers_it_promises(files: dict[str, bytes]) -> None:
    cuts, _, _ = one_pass(files["cuts.mp4"])
    shot = sample_videos.SHOT_FRAMES
    assert [s for s, _ in cuts.scenes] == [0, shot, 2 * shot] and cuts.scenes[-1][1] == 3 * shot
    _, (still, pairs), _ = one_pass(files["static.mp4"])
    assert pairs > 0 and still == pytest.approx(0.0, abs=0.05)
    # every frame (sampling at the video's rate): the flow is the pan's 4 px per frame
    _, (pan, _), _ = one_pass(files["pan.mp4"], MotionOptions(sampling_fps=float(sample_videos.FPS)))
    assert pan == pytest.approx(sample_videos.PAN_PX_PER_FRAME, rel=0.15)
    _, (copy, _), _ = one_pass(files["pan_copy.webm"], MotionOptions(sampling_fps=float(sample_videos.FPS)))
    assert copy == pytest.approx(pan, rel=0.05)


def test_the_sample_is_written_once_under_home(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SPARK_MM_HOME", str(tmp_path))
    first = sample_videos.ensure_sample_videos()
    assert first.parent == tmp_path / "sample" and sorted(p.name for p in first.iterdir()) == sorted(sample_videos.build_files())
    mtimes = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
    assert sample_videos.ensure_sample_videos() == first
    assert {p.name: p.stat().st_mtime_ns for p in first.iterdir()} == mtimes
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]
