"""Video CPU benchmark: Data-Juicer's chain (each operator opens the file) vs spark-mm's one decode.

Runs in one process, single core, on the same videos (``../shared/data/video`` when present, plus
the embedded sample of ``spark_mm/sources/sample_videos.py``), interleaving repeats:

(ref) the reference chain as Data-Juicer runs it, each step opening the file itself:
      ``scenedetect.detect`` with ``ContentDetector`` (threshold 27, ``min_scene_len`` 15, OpenCV
      backend: ``video_split_by_scene_mapper``); the Farneback loop of
      ``video_motion_score_filter`` over ``cv2.VideoCapture`` (2 fps, with its seek per sampled
      frame); and ``extract_key_frames`` (PyAV, ``skip_frame = NONKEY``), frames to PIL images;
(ours) ``spark_mm.video.scenes.split`` with the motion and keyframe frame taps: one PyAV decode
      feeding PySceneDetect's detector, the flow of the same frame pairs and the keyframes.

The two must agree (scene bounds, motion score to 1e-4 relative, keyframe count) before any time
counts. Throughput is video-seconds processed per second of one core. Usage:
``python benchmarks/video_cpu.py [--repeat 3]``; numbers in docs/video.md.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPARK_MM_SHARED_DATA", REPO.parent / "shared" / "data"))


def _single_core() -> None:
    import cv2

    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def videos(tmp: Path) -> list[Path]:
    """The shared videos, plus the sample's readable ones written to ``tmp``."""
    from spark_mm.sources.sample_videos import build_files

    out = sorted((SHARED / "video").glob("*.mp4")) if (SHARED / "video").is_dir() else []
    for name, data in build_files().items():
        if name in ("cuts.mp4", "pan.mp4", "pan_copy.webm", "static.mp4"):
            (tmp / name).write_bytes(data)
            out.append(tmp / name)
    return out


# ---------------------------------------------------------------- the reference chain
def ref_scenes(path: Path) -> list[tuple[int, int]]:
    from scenedetect import ContentDetector, detect

    scenes = detect(str(path), ContentDetector(threshold=27.0, min_scene_len=15), show_progress=False, start_in_scene=True)
    return [(a.frame_num, b.frame_num) for a, b in scenes]


def ref_motion(path: Path, sampling_fps: float = 2.0) -> float | None:
    """Data-Juicer's ``video_motion_score_filter`` loop (default parameters), as it reads frames."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    step = round(fps / min(sampling_fps, fps))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    step = max(min(step, total - 1), 1)
    prev, scores, count = None, [], 0
    while cap.isOpened():
        ok, frame = cap.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if prev is None:
            prev = gray
            continue
        flow = cv2.calcOpticalFlowFarneback(prev, gray, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        mag, _ = cv2.cartToPolar(flow[..., 0], flow[..., 1])
        scores.append(float(np.mean(mag)))
        prev = gray
        count += step
        cap.set(cv2.CAP_PROP_POS_FRAMES, count)
    cap.release()
    return float(np.mean(scores)) if scores else None


def ref_keyframes(path: Path) -> int:
    """Data-Juicer's ``extract_key_frames``: decode with ``skip_frame = NONKEY``, frames to images."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        container.seek(0)
        images = [frame.to_image() for frame in container.decode(stream)]
    return len(images)


def reference(path: Path) -> tuple[list[tuple[int, int]], float | None, int]:
    return ref_scenes(path), ref_motion(path), ref_keyframes(path)


# ---------------------------------------------------------------- spark-mm's one decode
def ours(path: Path) -> tuple[list[tuple[int, int]], float | None, int]:
    import av

    from spark_mm.video.frames import KeyframeConsumer
    from spark_mm.video.motion import MotionConsumer, MotionOptions
    from spark_mm.video.scenes import split
    from spark_mm.video.step import ClipsStep

    motion, keys = MotionConsumer(MotionOptions()), KeyframeConsumer()
    with open(path, "rb") as fh:
        result = split(av, io.BytesIO(fh.read()), ClipsStep(), (motion, keys))
    return result.scenes, motion.result()[0], len(keys.result()[0])


def duration_s(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return float(v.duration * v.time_base) if v.duration else float(c.duration or 0) / 1e6


def key_packets(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.size and p.is_keyframe)


def check_agree(files: list[Path]) -> None:
    for f in files:
        r, o = reference(f), ours(f)
        assert r[0] == o[0], f"{f.name}: scenes {r[0]} vs {o[0]}"
        assert (r[1] is None) == (o[1] is None) and (r[1] is None or abs(r[1] - o[1]) <= 1e-4 * max(1.0, abs(r[1]))), f"{f.name}: motion {r[1]} vs {o[1]}"
        if f.suffix == ".webm":  # libvpx ignores skip_frame: Data-Juicer's extract_key_frames returns every frame
            assert o[2] == key_packets(f), f"{f.name}: keyframes {o[2]} vs {key_packets(f)} key packets"
        else:
            assert r[2] == o[2], f"{f.name}: keyframes {r[2]} vs {o[2]}"
        print(f"  {f.name:16s} scenes {len(o[0]):2d}  motion {o[1]:.4f}  keyframes {o[2]:3d}  (agree)")


def run(files: list[Path], repeat: int, min_s: float) -> dict[str, list[float]]:
    """Video-seconds per second for each side, ``repeat`` interleaved rounds of at least ``min_s`` each."""
    seconds = sum(duration_s(f) for f in files)
    out: dict[str, list[float]] = {"reference": [], "spark-mm": []}
    sides = {"reference": reference, "spark-mm": ours}
    for _ in range(repeat):
        for name, fn in sides.items():
            t0, done = time.perf_counter(), 0.0
            while True:
                for f in files:
                    fn(f)
                done += seconds
                if time.perf_counter() - t0 >= min_s:
                    break
            out[name].append(done / (time.perf_counter() - t0))
    return out


def main(argv: list[str] | None = None) -> int:
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=5.0, help="each side runs at least this long per round")
    args = p.parse_args(argv)
    _single_core()
    with tempfile.TemporaryDirectory() as tmp:
        files = videos(Path(tmp))
        total = sum(duration_s(f) for f in files)
        print(f"{len(files)} videos, {total:.1f} video-seconds; single core; results must agree first:")
        check_agree(files)
        res = run(files, args.repeat, args.min_seconds)
    ref, own = max(res["reference"]), max(res["spark-mm"])
    for name, vals in res.items():
        print(f"{name:10s} best {max(vals):7.2f} video-s/s   spread {min(vals):.2f}-{max(vals):.2f}  (median {statistics.median(vals):.2f})")
    print(f"ratio spark-mm / reference (best vs best): {own / ref:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
