"""Clip windows (spark_mm/video/window.py, frames.py, motion.py): the frame rules applied to a clip
``[start_s, end_s)`` as if the clip were the video, on numbers and on videos PyAV encodes here."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest

av = pytest.importorskip("av")

from spark_mm.video.frames import Sampling, frames_at, sample, timestamps, window_keyframe_indices, window_uniform_indices  # noqa: E402
from spark_mm.video.motion import MotionOptions, motion_score, window_read_indices  # noqa: E402
from spark_mm.video.scenes import ClipReason, SplitError  # noqa: E402
from spark_mm.video.window import Window, window_span  # noqa: E402
from tests.video_fixtures import encode_square, encode_still_then_moving  # noqa: E402

TB = Fraction(1, 12)
PTS = list(range(48))  # 48 frames at 12 fps, pts in frames
KEYS = [i % 12 == 0 for i in PTS]  # keyframes at 0, 1, 2, 3 s


def test_window_span_is_half_open_in_seconds() -> None:
    assert window_span(PTS, 0, TB, Window(1.5, 3.0)) == (18, 36)  # 1.5 s is frame 18; frame 36 (3.0 s) is out
    assert window_span(PTS, 0, TB, Window(0.0, 4.0)) == (0, 48)
    assert window_span([p + 5 for p in PTS], 5, TB, Window(1.5, 3.0)) == (18, 36)  # seconds from the stream's first frame
    assert window_span(PTS, 0, TB, Window(9.0, 10.0)) == (48, 48)  # past the end: empty


@pytest.mark.parametrize(
    ("window", "n", "expected"),
    [
        # 18 frames, 1.5 s to frame 36: targets 0, 0.75, 1.5 s of the clip; 1.5 is past its last frame
        (Window(1.5, 3.0), 3, [18, 27, 35]),
        (Window(1.5, 3.0), 1, [27]),  # the clip's middle, 0.75 s in
        (Window(1.5, 3.0), 4, [18, 24, 30, 35]),  # 0.5 s (the keyframe at 2.0 s), 1.0 s, then the last frame
        # the last clip runs to the stream's duration (4 s): targets 0, 0.5, 1.0 s of the clip
        (Window(3.0, 4.0), 3, [36, 42, 47]),
    ],
)
def test_window_uniform_indices(window: Window, n: int, expected: list[int]) -> None:
    span = window_span(PTS, 0, TB, window)
    assert window_uniform_indices(PTS, KEYS, TB, Fraction(4), n, span) == expected


def test_window_uniform_indices_caps_at_the_clip_frame_count() -> None:
    # n capped at the clip's 4 frames; its 1/3 s gives targets 0, 1/9, 2/9, 1/3 s: the first frame at
    # or after each, the last one past the clip's last frame (3/12 s) is that frame again
    assert window_uniform_indices(PTS, KEYS, TB, Fraction(4), 100, (40, 44)) == [40, 42, 43, 43]
    assert window_uniform_indices(PTS, KEYS, TB, Fraction(4), 3, (10, 10)) == []


def test_window_keyframes_start_on_the_clip() -> None:
    assert window_keyframe_indices(KEYS, (18, 36)) == [18, 24]  # the clip's first frame, then the keyframe at 2 s
    assert window_keyframe_indices(KEYS, (12, 20)) == [12]
    assert window_keyframe_indices(KEYS, (5, 5)) == []


def test_window_motion_indices() -> None:
    # Data-Juicer's loop over the clip's 18 frames at 12 fps, 2 fps sampling: step 6, frames 0, 1, 6, 12 of the clip
    assert window_read_indices((18, 36), 12.0, 2.0) == [18, 19, 24, 30]
    assert window_read_indices((0, 48), 12.0, 2.0) == [0, 1, 6, 12, 18, 24, 30, 36, 42]
    assert window_read_indices((7, 8), 12.0, 2.0) == [7]
    assert window_read_indices((7, 7), 12.0, 2.0) == []


def _stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def test_sample_in_a_window_decodes_the_picked_frames() -> None:
    data = encode_square(frames=48, fps=12, gop=12, speed_px=1)
    got = sample(av, _stream(data), Sampling("uniform", 3), Window(1.5, 3.0))
    assert got.seconds == pytest.approx([1.5, 2.25, 35 / 12])
    assert got.total_frames == 18  # the clip's frames
    # the frames decoded after seeking are the ones a decode from the start gives at those indices
    whole = frames_at(av, _stream(data), [18, 27, 35])
    for frame, index in zip(got.frames, [18, 27, 35]):
        assert (frame == whole[index]).all()


def test_keyframes_in_a_window() -> None:
    data = encode_square(frames=48, fps=12, gop=12, speed_px=1)
    with av.open(_stream(data)) as container:
        _, keys = timestamps(container)
    expected = [i for i in range(18, 36) if i == 18 or keys[i]]
    got = sample(av, _stream(data), Sampling("keyframes"), Window(1.5, 3.0))
    assert got.seconds == pytest.approx([i / 12 for i in expected])
    assert expected[0] == 18 and len(expected) >= 2  # the clip's first frame and the keyframe at 2 s


def test_an_empty_window_is_a_decode_error() -> None:
    data = encode_square(frames=24, fps=12)
    with pytest.raises(SplitError) as err:
        sample(av, _stream(data), Sampling("uniform", 3), Window(5.0, 6.0))
    assert err.value.reason is ClipReason.DECODE_ERROR and "clip window" in str(err.value)
    with pytest.raises(SplitError):
        motion_score(av, _stream(data), MotionOptions(), Window(5.0, 6.0))


def test_motion_of_a_still_clip_and_a_moving_clip() -> None:
    pytest.importorskip("cv2")
    data = encode_still_then_moving(still=24, moving=24, fps=12)
    still, still_pairs = motion_score(av, _stream(data), MotionOptions(), Window(0.0, 2.0))
    moving, moving_pairs = motion_score(av, _stream(data), MotionOptions(), Window(2.0, 4.0))
    assert still_pairs == moving_pairs == 4  # frames 0, 1, 6, 12, 18 of each clip
    assert still is not None and moving is not None
    assert still < 0.05 < 0.5 < moving
    whole, whole_pairs = motion_score(av, _stream(data), MotionOptions())
    assert whole_pairs == 8 and whole is not None and whole > moving / 4  # unchanged whole-video path


def test_vid_motion_reads_each_rows_clip_window() -> None:
    pytest.importorskip("cv2")
    import pyarrow as pa

    from spark_mm.ops.video_motion import VidMotion, VidMotionParams

    data = encode_still_then_moving(still=24, moving=24, fps=12)
    batch = pa.record_batch({
        "payload": [data, data, data], "source_uri": pa.nulls(3, pa.string()), "record_meta": pa.nulls(3, pa.map_(pa.string(), pa.string())),
        "clip_start_s": [0.0, 2.0, None], "clip_end_s": [2.0, 4.0, None],  # a still clip, a moving clip, the whole video
    })
    out = VidMotion(VidMotionParams(min_score=0.25)).apply(batch).columns.to_pydict()
    still, moving, whole = out["vid_motion_score"]
    assert still < 0.05 < 0.5 < moving and out["vid_motion_pairs"] == [4, 4, 8]
    assert out["vid_motion_ok"] == [False, True, True] and out["vid_motion_reason"][0] == "too_low"
    assert whole == pytest.approx(motion_score(av, _stream(data), MotionOptions())[0])
