"""Frame sampling (spark_mm/video/frames.py): Data-Juicer's ``extract_video_frames_uniformly``
timestamp rule on numbers, then on videos PyAV encodes here; ``keyframes``; bad specs."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest

av = pytest.importorskip("av")

from spark_mm.video.frames import Sampling, sample, stream_duration, uniform_indices, uniform_seconds  # noqa: E402
from spark_mm.video.scenes import ClipReason, SplitError  # noqa: E402
from tests.video_fixtures import GARBAGE, encode  # noqa: E402

TB = Fraction(1, 12)
PTS = list(range(48))  # 48 frames at 12 fps, pts in frames
KEYS = [i % 12 == 0 for i in PTS]  # keyframes at 0, 1, 2, 3 s


def test_uniform_seconds_rule() -> None:
    # n = 1: the middle; n >= 2: i * d / (n - 1), both ends included
    assert uniform_seconds(Fraction(4), 1) == [2]
    assert uniform_seconds(Fraction(4), 2) == [0, 4]
    assert uniform_seconds(Fraction(4), 3) == [0, 2, 4]
    assert uniform_seconds(Fraction(4), 4) == [0, Fraction(4, 3), Fraction(8, 3), 4]
    assert uniform_seconds(Fraction(4), 0) == []


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, [24]),  # 2.0 s
        (3, [0, 24, 47]),  # the target 4.0 s lies past the last frame (3.917 s): the last frame
        (4, [0, 16, 32, 47]),  # 4/3 s = pts 16, 8/3 s = pts 32: the first frame at or after each
        (5, [0, 12, 24, 36, 47]),  # targets on keyframes
    ],
)
def test_uniform_indices_rule(n: int, expected: list[int]) -> None:
    assert uniform_indices(PTS, KEYS, TB, Fraction(4), n) == expected
    assert uniform_indices(PTS, [i == 0 for i in PTS], TB, Fraction(4), n) == expected  # one keyframe: one group


def test_uniform_indices_caps_at_frame_count() -> None:
    # n > frames: n becomes the frame count; target i lands on frame ceil(i * 48/47), and the last
    # target (4.0 s) on the last frame again, as Data-Juicer returns it
    got = uniform_indices(PTS, KEYS, TB, Fraction(4), 100)
    assert len(got) == 48 and got[:3] == [0, 2, 3] and got[-2:] == [47, 47]
    assert uniform_indices([], [], TB, Fraction(4), 3) == []


def test_uniform_indices_non_zero_start_and_tb() -> None:
    # pts in a 1/12288 time base (MP4's), first keyframe at pts 0; a frame is picked at pts >= t / tb
    tb = Fraction(1, 12288)
    pts = [i * 1024 for i in range(24)]
    keys = [i % 6 == 0 for i in range(24)]
    assert uniform_indices(pts, keys, tb, Fraction(2), 3) == [0, 12, 23]


def test_sample_uniform_on_mp4_and_webm() -> None:
    got = sample(av, io.BytesIO(encode("mp4", frames=24, fps=12, gop=6)), Sampling.parse("uniform(3)"))
    assert got.total_frames == 24
    assert got.seconds == pytest.approx([0.0, 1.0, 23 / 12], abs=1e-3)  # duration 2 s: targets 0, 1, 2
    assert [f.shape for f in got.frames] == [(48, 64, 3)] * 3
    assert not (got.frames[0] == got.frames[1]).all()  # different frames of a moving gradient
    # WebM: no frame count and no stream duration; the container's (with its audio track) is d
    data = encode("webm", frames=24, fps=12, gop=6)
    with av.open(io.BytesIO(data)) as c:
        d = stream_duration(c)
        times = sorted(float(p.pts * p.time_base) for p in c.demux(c.streams.video[0]) if p.size)
    assert d is not None and d > 2
    middle = next(t for t in times if t >= float(d) / 2)
    got = sample(av, io.BytesIO(data), Sampling.parse("uniform(3)"))
    assert got.total_frames == 24 and got.seconds == pytest.approx([0.0, middle, times[-1]])


def test_sample_keyframes() -> None:
    got = sample(av, io.BytesIO(encode("mp4v", frames=24, fps=12, gop=6)), Sampling.parse("keyframes"))
    assert got.seconds == pytest.approx([0.0, 0.5, 1.0, 1.5])


def test_sampling_parse_and_errors() -> None:
    assert Sampling.parse(" uniform( 5 ) ") == Sampling("uniform", 5) and str(Sampling.parse("uniform(5)")) == "uniform(5)"
    assert Sampling.parse("keyframes") == Sampling("keyframes")
    for bad in ("uniform(0)", "uniform", "all", "uniform(-1)"):
        with pytest.raises(ValueError, match="keyframes' or 'uniform"):
            Sampling.parse(bad)
    with pytest.raises(SplitError) as err:
        sample(av, io.BytesIO(GARBAGE), Sampling.parse("uniform(3)"))
    assert err.value.reason is ClipReason.NOT_VIDEO
