"""vid_motion: Data-Juicer's frame-read rule and resize rule on numbers; a moving square against a
still video (made here with PyAV); reasons for broken inputs; and on shared/data/video, the score
Data-Juicer's own loop gives through cv2.VideoCapture and the number its test states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from spark_mm.ops.video_motion import VidMotion, VidMotionParams, VidMotionReason  # noqa: E402
from spark_mm.video.motion import FARNEBACK, MotionOptions, motion_score, read_indices, resized_size, sampling_step  # noqa: E402
from tests.video_fixtures import GARBAGE, encode_square, truncated  # noqa: E402

META = pa.map_(pa.string(), pa.string())


def test_frame_rule() -> None:
    assert sampling_step(24.0, 2.0, 282) == 12  # round(24 / 2)
    assert sampling_step(1.0, 2.0, 10) == 1  # sampling_fps capped at fps
    assert sampling_step(30.0, 2.0, 5) == 4  # capped at total - 1
    assert sampling_step(25.0, 2.0, 100) == 12  # round(12.5) = 12, Python's half to even
    # frame 0, then frame 1 (Data-Juicer's loop continues before seeking), then step, 2 step, ...
    assert read_indices(30, 12) == [0, 1, 12, 24]
    assert read_indices(5, 1) == [0, 1, 1, 2, 3, 4]
    assert read_indices(1, 1) == [0]


def test_resize_rule() -> None:
    assert resized_size(48, 64, None, None) == (48, 64)
    assert resized_size(48, 64, (24,), None) == (24, 32)  # short edge 24
    assert resized_size(64, 48, (24,), None) == (32, 24)  # portrait
    assert resized_size(48, 64, (30, 20), None) == (20, 30)  # both edges: short, long
    assert resized_size(48, 64, (36,), 40) == (30, 40)  # long edge capped, short scaled down (int)


def run(payloads: list[bytes | None], **params: object) -> tuple[list[dict[str, object]], list[str | None]]:
    n = len(payloads)
    batch = pa.RecordBatch.from_pydict(
        {"payload": pa.array(payloads, pa.binary()), "source_uri": pa.array([None] * n, pa.string()), "record_meta": pa.array([None] * n, META)}
    )
    result = VidMotion(VidMotionParams(**params)).apply(batch)  # type: ignore[arg-type]
    return result.columns.to_pylist(), result.errors.to_pylist() if result.errors is not None else [None] * n


def test_moving_square_against_still() -> None:
    moving, still = encode_square(frames=24, speed_px=1), encode_square(frames=24, speed_px=0)
    rows, errors = run([moving, still, encode_square(frames=1), GARBAGE, None, truncated(moving, 0.2)])
    m, s, one, garbage, missing, cut = rows
    # 24 frames at 12 fps, sampling 2 fps: step 6, frames 0, 1, 6, 12, 18: four pairs
    assert m["vid_motion_pairs"] == 4 and m["vid_motion_ok"] is True and m["vid_motion_score"] > 0.25
    assert s["vid_motion_score"] == pytest.approx(0.0, abs=0.01) and s["vid_motion_reason"] == VidMotionReason.TOO_LOW.value
    assert one["vid_motion_score"] is None and one["vid_motion_reason"] == "too_few_frames"
    assert garbage["vid_motion_reason"] == "not_video" and errors[3] is None
    assert missing["vid_motion_reason"] == "missing_input" and errors[4] is None
    assert cut["vid_motion_reason"] in ("decode_error", "too_few_frames", "too_low", None)  # a cut file never fails the batch
    # relative divides by the diagonal of the (64x48) frame; max_score bounds from above
    (rel,), _ = run([moving], relative=True, min_score=0.0)
    assert rel["vid_motion_score"] == pytest.approx(m["vid_motion_score"] / np.hypot(48, 64), rel=1e-6)
    (high,), _ = run([moving], max_score=0.1)
    assert high["vid_motion_reason"] == "too_high"
    (small,), _ = run([moving], size=24, min_score=0.0)
    assert small["vid_motion_ok"] is True and small["vid_motion_score"] != m["vid_motion_score"]


def dj_capture_loop(path: Path) -> float:
    """Data-Juicer's compute_stats_single loop, through cv2.VideoCapture, default options."""
    cap = cv2.VideoCapture(str(path))
    fps, total = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    step = sampling_step(fps, 2.0, total)
    prev, count, scores = None, 0, []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if prev is None:
            prev = gray
            continue
        flow = cv2.calcOpticalFlowFarneback(prev, gray, None, **FARNEBACK)
        mag, _ = cv2.cartToPolar(flow[..., 0], flow[..., 1])
        scores.append(float(np.mean(mag)))
        prev = gray
        count += step
        cap.set(cv2.CAP_PROP_POS_FRAMES, count)
    cap.release()
    return float(np.mean(scores))


def test_dj_video1(shared_data: Path) -> None:
    path = shared_data / "video" / "dj_video1.mp4"
    if not path.is_file():
        pytest.skip("dj_video1.mp4 not in shared data")
    with open(path, "rb") as fh:
        score, pairs = motion_score(av, fh, MotionOptions())
    assert pairs == 24 and score is not None
    assert score == pytest.approx(dj_capture_loop(path), rel=1e-5)
    # Data-Juicer's test states 1.8210126 for this file (video1.mp4) and keeps it in [1.5, 3.0];
    # its number came from another OpenCV/FFmpeg build, so the match is to 3 %
    assert score == pytest.approx(1.8210126, rel=0.03) and 1.5 <= score <= 3.0
