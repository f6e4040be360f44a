"""Split one video into clips: decode once with PyAV, find bounds, apply the clipping options.

Frames are decoded by PyAV (FFmpeg) here, once, and handed to PySceneDetect's ``SceneManager``
through :class:`_DecodedFrames`, a ``VideoStream`` over the decoder, so PySceneDetect never opens
the file itself; its own detection loop (auto-downscale to ~256 px wide, flash filter,
``post_process``) runs unchanged, with ``start_in_scene=True`` as Data-Juicer calls ``detect``.
The fixed splitter needs no pixels: frames are decoded for their timestamps only.

Clip bounds are frame indices in presentation order, ``[start_frame, end_frame)``; the clipping
options work on them as NeMo Curator's ``_get_filtered_scenes`` does (seconds × fps, truncated to
whole frames): ``max_clip_s`` (stride or truncate), then ``crop_s``, then ``min_clip_s``, then
``limit_clips``. Nothing here imports pyspark. docs/video.md has the rules and their sources.

**Frame taps.** Other per-frame signals ride on the same decode: :func:`split` takes ``taps``,
each a :class:`FrameTap` that says which frames it wants (``wants(index, key)``) and is called
with ``(index, pts, key, bgr)`` for each of them, in presentation order, as the frame passes. A
tap keeps what it computes (a hash, a score), never the frame: the array is the decoder's and is
read-only to it. The keyframe pHash of clip dedup is one (``spark_mm/video/clip_hash.py``).
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO, Protocol

from spark_mm.ops.video_meta import _IMAGE_FORMATS
from spark_mm.sources.video_bytes import sniff_video_mime
from spark_mm.video.step import AdaptiveSplitter, ClipsStep, ContentSplitter, FixedSplitter, ThresholdSplitter


class ClipReason(str, enum.Enum):
    """Why a video has no clips: ``vid_scene_split_reason`` of its ``signals_clips`` row."""

    MISSING_INPUT = "missing_input"  # neither a payload nor a payload reference (e.g. an image row)
    UNREADABLE_REFERENCE = "unreadable_reference"  # the referenced file is gone or shorter than the reference
    NOT_VIDEO = "not_video"  # bytes FFmpeg does not read as a video container
    DECODE_ERROR = "decode_error"  # a video container that fails to open or decode, or yields no frame


class FrameTap(Protocol):
    """A consumer of the single decode: called for every frame it ``wants``, never keeping the array.
    ``prepare`` sees the open container before decoding (it may demux, then must seek back to 0)."""

    def prepare(self, container: Any, frames: Frames) -> None: ...

    def wants(self, index: int, key: bool) -> bool: ...

    def __call__(self, index: int, pts: int, key: bool, bgr: Any) -> None: ...


class SplitError(Exception):
    """A video that cannot be split; ``reason`` is its :class:`ClipReason`."""

    def __init__(self, reason: ClipReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Frames:
    """What decoding recorded: per frame (presentation order) its pts (relative to the stream's
    start, in ``time_base``) and key flag, and where the last frame ends."""

    fps: Fraction
    time_base: Fraction
    width: int
    height: int
    pts: list[int] = field(default_factory=list)
    keys: list[bool] = field(default_factory=list)
    end_pts: int = 0

    def __len__(self) -> int:
        return len(self.pts)

    def bound_pts(self, frame: int) -> int:
        """The pts at which frame ``frame`` starts (the end of the video for ``len(self)``)."""
        return self.pts[frame] if frame < len(self.pts) else self.end_pts

    def seconds(self, frame: int) -> float:
        return float(self.bound_pts(frame) * self.time_base)

    def nearest_frame(self, seconds: float) -> int:
        """The frame whose start is nearest ``seconds``; ``len(self)`` past the last frame's middle."""
        times = [float(p * self.time_base) for p in self.pts] + [float(self.end_pts * self.time_base)]
        i = bisect.bisect_left(times, seconds)
        if i >= len(times):
            return len(self.pts)
        if i > 0 and seconds - times[i - 1] < times[i] - seconds:
            return i - 1
        return i


@dataclass(frozen=True)
class Clip:
    index: int
    start_frame: int
    end_frame: int  # exclusive
    start_pts: int
    end_pts: int  # exclusive: where the clip's last frame ends
    start_s: float
    end_s: float
    keyframe_aligned: bool  # the first frame is a keyframe: the clip can be stream-copied
    too_short: bool  # shorter than min_clip_s, kept because short_clips is "flag"


@dataclass(frozen=True)
class Split:
    """One video's clips and what they came from."""

    frames: Frames
    scenes: list[tuple[int, int]]  # the splitter's bounds, before the clipping options
    clips: list[Clip]


def _open(av: Any, stream: BinaryIO) -> Any:
    head = stream.read(64)
    stream.seek(0)
    try:
        container = av.open(stream, mode="r")
    except (av.FFmpegError, ValueError, OSError) as err:
        if sniff_video_mime(head) is None:
            raise SplitError(ClipReason.NOT_VIDEO, "not a video container") from err
        raise SplitError(ClipReason.DECODE_ERROR, f"cannot open container: {type(err).__name__}: {err}") from err
    fmt = container.format.name
    image = any(fmt == f or fmt.endswith(f) for f in _IMAGE_FORMATS) and sniff_video_mime(head) is None
    if not container.streams.video or image:
        container.close()
        if sniff_video_mime(head) is None:
            raise SplitError(ClipReason.NOT_VIDEO, f"{fmt}: not a video container")
        raise SplitError(ClipReason.DECODE_ERROR, f"{fmt} container without a readable video stream")
    return container


def _decode(av: Any, container: Any, frames: Frames, pixels: bool, taps: Sequence[FrameTap] = ()) -> Iterator[Any]:
    """Decode the first video stream, recording every frame in ``frames``; yields BGR arrays (or None).

    Each frame a tap wants is converted to BGR (once, shared with the detector) and handed to it.
    """
    video = container.streams.video[0]
    start = video.start_time or 0
    step = max(1, round(1 / (frames.fps * frames.time_base))) if frames.fps else 1
    last_duration = step
    for frame in container.decode(video):
        pts = frame.pts - start if frame.pts is not None else (frames.pts[-1] + step if frames.pts else 0)
        frames.pts.append(pts)
        frames.keys.append(bool(frame.key_frame))
        last_duration = getattr(frame, "duration", None) or step
        frames.end_pts = pts + last_duration
        index, key = len(frames.pts) - 1, frames.keys[-1]
        takers = [t for t in taps if t.wants(index, key)]
        image = frame.to_ndarray(format="bgr24") if pixels or takers else None
        for tap in takers:
            tap(index, pts, key, image)
        yield image if pixels else None


def _detector(splitter: ContentSplitter | AdaptiveSplitter | ThresholdSplitter) -> Any:
    from scenedetect import detectors

    if isinstance(splitter, ContentSplitter):
        return detectors.ContentDetector(
            threshold=splitter.threshold, min_scene_len=splitter.min_scene_len, luma_only=splitter.luma_only, kernel_size=splitter.kernel_size
        )
    if isinstance(splitter, AdaptiveSplitter):
        return detectors.AdaptiveDetector(
            adaptive_threshold=splitter.adaptive_threshold, min_scene_len=splitter.min_scene_len, window_width=splitter.window_width,
            min_content_val=splitter.min_content_val, luma_only=splitter.luma_only, kernel_size=splitter.kernel_size,
        )
    method = detectors.ThresholdDetector.Method.FLOOR if splitter.method == "floor" else detectors.ThresholdDetector.Method.CEILING
    return detectors.ThresholdDetector(
        threshold=splitter.threshold, min_scene_len=splitter.min_scene_len, fade_bias=splitter.fade_bias,
        add_final_scene=splitter.add_final_scene, method=method,
    )


def _decoded_frames_class() -> type:
    """:class:`_DecodedFrames`, built on first use so importing this module needs no scenedetect."""
    global _DecodedFrames
    if _DecodedFrames is not None:
        return _DecodedFrames
    from scenedetect.common import FrameTimecode, Timecode
    from scenedetect.video_stream import VideoStream

    class DecodedFrames(VideoStream):
        """A PySceneDetect ``VideoStream`` over frames PyAV decodes here: forward only, never seeks."""

        BACKEND_NAME = "spark_mm_pyav"

        def __init__(self, frames: Frames, images: Iterator[Any]) -> None:
            self._frames, self._images, self._read = frames, images, 0

        path = property(lambda self: "")
        name = property(lambda self: "video")
        is_seekable = property(lambda self: False)
        frame_rate = property(lambda self: self._frames.fps)
        duration = property(lambda self: None)
        frame_size = property(lambda self: (self._frames.width, self._frames.height))
        aspect_ratio = property(lambda self: 1.0)
        frame_number = property(lambda self: self._read)

        @property
        def position(self) -> Any:
            if not self._read:
                return self.base_timecode
            return FrameTimecode(timecode=Timecode(pts=self._frames.pts[self._read - 1], time_base=self._frames.time_base), fps=self._frames.fps)

        @property
        def position_ms(self) -> float:
            return 0.0 if not self._read else self._frames.seconds(self._read - 1) * 1000.0

        def read(self, decode: bool = True) -> Any:
            image = next(self._images, False)
            if image is False:
                return False
            self._read += 1
            return image if decode else True

        def reset(self) -> None:
            raise NotImplementedError("a decoded stream is read once")

        def seek(self, target: Any) -> None:
            raise NotImplementedError("a decoded stream is read once")

    _DecodedFrames = DecodedFrames
    return DecodedFrames


_DecodedFrames: type | None = None


def _fixed_spans(n: int, fps: Fraction, splitter: FixedSplitter) -> list[tuple[int, int]]:
    """NeMo Curator's fixed stride: clips of ``clip_len_s`` every ``clip_stride_s`` over ``n / fps``
    seconds, bounds truncated to frames (``int(s * fps)``)."""
    duration = n / float(fps)
    length, stride = splitter.clip_len_s, splitter.clip_stride_s or splitter.clip_len_s
    spans: list[tuple[int, int]] = []
    k = 0
    while k * stride < duration:
        start = k * stride
        end = min(start + length, duration)
        spans.append((int(start * float(fps)), min(n, int(end * float(fps)))))
        k += 1
    return [(s, e) for s, e in spans if e > s]


def clip_spans(scenes: list[tuple[int, int]], fps: Fraction, step: ClipsStep) -> list[tuple[int, int, bool]]:
    """NeMo Curator's clipping options over frame bounds: ``(start, end, too_short)`` per clip.

    Order and rounding as ``_get_filtered_scenes``: seconds become ``int(s * fps)`` frames; clips
    over ``max_clip_s`` are cut into ``max`` pieces (``stride``: a last piece under ``min_clip_s``
    is dropped) or cut short (``truncate``); ``crop_s`` comes off both ends (clips left empty are
    dropped); clips under ``min_clip_s`` are dropped (``short_clips: flag`` keeps them, flagged);
    the first ``limit_clips`` remain.

    >>> from spark_mm.video.step import ClipsStep
    >>> clip_spans([(0, 100), (100, 130)], Fraction(10), ClipsStep(max_clip_s=4, min_clip_s=2.5))
    [(0, 40, False), (40, 80, False), (100, 130, False)]
    >>> clip_spans([(0, 100), (100, 120)], Fraction(10), ClipsStep(crop_s=0.5, min_clip_s=2, short_clips="flag", limit_clips=2))
    [(5, 95, False), (105, 115, True)]
    """
    f = float(fps)
    min_len = int(step.min_clip_s * f) if step.min_clip_s else None
    spans: list[tuple[int, int]] = list(scenes)
    if step.max_clip_s:
        max_len = max(1, int(step.max_clip_s * f))
        if step.max_clip_mode == "truncate":
            spans = [(s, min(s + max_len, e)) for s, e in spans]
        else:
            pieces: list[tuple[int, int]] = []
            for s, e in spans:
                cur = s
                while cur < e:
                    end = min(cur + max_len, e)
                    if min_len and end - cur < min_len and end == e and step.short_clips == "drop":
                        break
                    pieces.append((cur, end))
                    cur = end
            spans = pieces
    if step.crop_s:
        crop = int(step.crop_s * f)
        spans = [(s + crop, e - crop) for s, e in spans if e - crop - (s + crop) > 0]
    out: list[tuple[int, int, bool]] = []
    for s, e in spans:
        short = bool(min_len) and e - s < min_len  # type: ignore[operator]
        if short and step.short_clips == "drop":
            continue
        out.append((s, e, short))
    return out[: step.limit_clips] if step.limit_clips else out


def split(av: Any, stream: BinaryIO, step: ClipsStep, taps: Sequence[FrameTap] = ()) -> Split:
    """Decode ``stream`` once and split it as ``step`` says, feeding ``taps`` the frames they want.

    Raises:
        SplitError: not a video, not openable, a decode failure, or no frame decoded.
    """
    container = _open(av, stream)
    with container:
        video = container.streams.video[0]
        ctx = video.codec_context
        fps = video.average_rate or video.guessed_rate
        if not fps or not video.time_base:
            raise SplitError(ClipReason.DECODE_ERROR, "no frame rate or time base in the video stream")
        frames = Frames(Fraction(fps.numerator, fps.denominator), Fraction(video.time_base.numerator, video.time_base.denominator), ctx.width, ctx.height)
        splitter = step.splitter
        try:
            for tap in taps:
                tap.prepare(container, frames)
            if isinstance(splitter, FixedSplitter):
                for _ in _decode(av, container, frames, pixels=False, taps=taps):
                    pass
                scenes = _fixed_spans(len(frames), frames.fps, splitter) if len(frames) else []
            else:
                from scenedetect import SceneManager

                manager = SceneManager()
                manager.add_detector(_detector(splitter))
                manager.detect_scenes(video=_decoded_frames_class()(frames, _decode(av, container, frames, pixels=True, taps=taps)))
                bounds = manager.get_scene_list(start_in_scene=True)
                scenes = [(frames.nearest_frame(a.seconds), frames.nearest_frame(b.seconds)) for a, b in bounds]
                scenes = [(a, min(b, len(frames))) for a, b in scenes if min(b, len(frames)) > a]
        except (av.FFmpegError, ValueError, OSError, EOFError) as err:
            raise SplitError(ClipReason.DECODE_ERROR, f"decode failed after {len(frames)} frames: {type(err).__name__}: {err}") from err
    if not len(frames):
        raise SplitError(ClipReason.DECODE_ERROR, "no video frame decoded")
    clips = [
        Clip(
            index=i, start_frame=s, end_frame=e, start_pts=frames.bound_pts(s), end_pts=frames.bound_pts(e),
            start_s=frames.seconds(s), end_s=frames.seconds(e), keyframe_aligned=frames.keys[s], too_short=short,
        )
        for i, (s, e, short) in enumerate(clip_spans(scenes, frames.fps, step))
    ]
    return Split(frames, scenes, clips)
