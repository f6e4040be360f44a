"""clip_phash without Spark: the middle-keyframe rule, the frame tap on the single decode, and
the hash equal to imagehash's pHash of the very frame PyAV decodes (keyframe and fallback)."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest

av = pytest.importorskip("av")
pytest.importorskip("scenedetect")
imagehash = pytest.importorskip("imagehash")

from PIL import Image  # noqa: E402

from spark_mm.video.clip_hash import KeyframeHashes, pick_frame  # noqa: E402
from spark_mm.video.clips import clips_batch  # noqa: E402
from spark_mm.video.scenes import split  # noqa: E402
from spark_mm.video.step import ClipsStep  # noqa: E402
from tests.video_fixtures import GARBAGE, encode_shots, smooth_image  # noqa: E402

SIZE = (128, 96)


def imagehash_int(rgb: np.ndarray) -> int:
    v = int(str(imagehash.phash(Image.fromarray(rgb))), 16)
    return v - (1 << 64) if v >= 1 << 63 else v


def decoded_rgb(data: bytes, index: int) -> np.ndarray:
    with av.open(io.BytesIO(data)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(index)


class Recorder:
    """A second tap beside the hashes: what it was handed, and that arrays come as BGR of the right size."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool]] = []

    def prepare(self, container: object, frames: object) -> None:
        return None

    def wants(self, index: int, key: bool) -> bool:
        return index % 10 == 3 or key

    def __call__(self, index: int, pts: int, key: bool, bgr: np.ndarray) -> None:
        assert bgr.shape == (SIZE[1], SIZE[0], 3) and bgr.dtype == np.uint8
        self.seen.append((index, key))


@pytest.mark.parametrize("kind", ["mp4", "mp4v", "webm"])
@pytest.mark.parametrize("splitter", [{"type": "content"}, {"type": "fixed", "clip_len_s": 1.0}])
def test_clip_phash_is_imagehash_of_the_middle_keyframe(kind: str, splitter: dict) -> None:
    x, y = smooth_image(1, SIZE), smooth_image(2, SIZE)
    data = encode_shots([(x, 20), (y, 25)], kind=kind)
    step = ClipsStep(splitter=splitter)
    batch = pa.RecordBatch.from_pydict({"sample_id": ["a" * 32, "b" * 32], "payload": [data, GARBAGE]})
    video, broken = clips_batch(av, batch, step, "r", step.fingerprint()).to_pylist()
    assert broken["clips"][0]["clip_phash"] is None and broken["clips"][0]["error"]  # the error row: null
    hashes, other = KeyframeHashes(), Recorder()
    s = split(av, io.BytesIO(data), step, taps=(hashes, other))
    keys = [i for i, k in enumerate(s.frames.keys) if k]
    assert sorted(hashes.hashes) == keys  # the tap hashed every keyframe, and nothing else
    assert other.seen == [(i, k) for i, k in enumerate(s.frames.keys) if i % 10 == 3 or k]  # every tap gets its own frames
    clips = video["clips"]
    assert len(clips) == len(s.clips) >= 2
    fallback = 0
    for c in clips:
        frame, is_key = pick_frame(s.frames, c["start_frame"], c["end_frame"])
        assert c["clip_phash_frame"] == frame and c["start_frame"] <= frame < c["end_frame"]
        if is_key:
            assert s.frames.keys[frame] and c["clip_phash"] == hashes.hashes[frame]
        else:  # no keyframe inside: the middle frame, decoded again after the split
            fallback += 1
            assert not any(s.frames.keys[c["start_frame"] : c["end_frame"]]) and frame == c["start_frame"] + (c["end_frame"] - c["start_frame"]) // 2
        assert c["clip_phash"] == imagehash_int(decoded_rgb(data, frame))
    if kind == "webm":  # libvpx with gop 250: one keyframe, so every later clip takes the fallback
        assert fallback == len(clips) - 1


def test_same_shot_in_two_videos_is_within_the_radius_and_other_shots_are_not() -> None:
    x, y, z = (smooth_image(s, SIZE) for s in (1, 2, 3))
    a = encode_shots([(x, 20), (y, 20)])
    b = encode_shots([(z, 20), (x, 20)])
    step = ClipsStep()
    batch = pa.RecordBatch.from_pydict({"sample_id": ["a" * 32, "b" * 32], "payload": [a, b]})
    (ax, ay), (bz, bx) = (r["clips"] for r in clips_batch(av, batch, step, "r", step.fingerprint()).to_pylist())

    def bits(p: dict, q: dict) -> int:
        return bin((p["clip_phash"] ^ q["clip_phash"]) & (2**64 - 1)).count("1")

    assert bits(ax, bx) <= 4  # the dedup step's default radius
    assert min(bits(ax, ay), bits(ax, bz), bits(ay, bz), bits(ay, bx)) > 12
