"""Video container metadata: format, codecs, size, frame rate, duration, frame and keyframe counts.

``vid_meta`` opens each sample's video with PyAV (FFmpeg's demuxers; nothing is decoded) from
``payload`` or from the external reference ``sources.video_bytes`` describes, and demuxes every
packet once to count frames and keyframes. Units and definitions are in docs/video.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import pyarrow as pa

from spark_mm.errors import MissingDependency
from spark_mm.ops.base import MISSING_INPUT, Filter, FilterDecision
from spark_mm.ops.video_base import VideoInputParams, VideoInputs, require_modules
from spark_mm.ops.registry import register
from spark_mm.sources.video_bytes import PayloadRefError, open_video, sniff_video_mime

_INSTALL = "vid_meta needs PyAV: pip install 'spark-mm[video]' (or pip install av)"
# FFmpeg demuxers that read still images: a JPEG payload opens as a one-frame "video" in them
_IMAGE_FORMATS = ("image2", "_pipe", "gif", "apng", "webp")
# A demuxed video stream that ends this much before the stated duration is a truncated file
_TRUNCATION_SLACK_S = 1.0
_TRUNCATION_SLACK_FRACTION = 0.1


class VidMetaReason(str, enum.Enum):
    """Why ``vid_meta`` has no (or incomplete) metadata for a row."""

    MISSING_INPUT = MISSING_INPUT  # neither a payload nor a payload reference
    NOT_VIDEO = "not_video"  # bytes FFmpeg does not read as a video container, an image, or no video stream
    UNREADABLE_REFERENCE = "unreadable_reference"  # the referenced file is gone or shorter than the reference
    DECODE_ERROR = "decode_error"  # a video container (by its header) that FFmpeg cannot open or demux
    TRUNCATED = "truncated"  # opened, but packets stop before the file's own index or duration says


class VidMetaParams(VideoInputParams):
    op: Literal["vid_meta"] = "vid_meta"


@dataclass
class _Meta:
    format: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: Fraction | None = None
    duration_s: float | None = None
    frames: int | None = None
    frames_counted: bool | None = None
    keyframes: int | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None
    bytes: int | None = None

    def values(self) -> tuple[Any, ...]:
        fps = self.fps
        return (
            self.format, self.codec, self.width, self.height,
            float(fps) if fps else None, fps.numerator if fps else None, fps.denominator if fps else None,
            self.duration_s, self.frames, self.frames_counted, self.keyframes, self.audio_codec, self.bit_rate, self.bytes,
        )


class _Problem(Exception):
    def __init__(self, reason: VidMetaReason, message: str | None = None, meta: _Meta | None = None) -> None:
        super().__init__(message or reason.value)
        self.reason, self.message, self.meta = reason, message, meta


def _size(stream: Any) -> int:
    stream.seek(0, 2)
    size = int(stream.tell())
    stream.seek(0)
    return size


def probe(av: Any, stream: Any) -> _Meta:
    """Container metadata of one open binary stream; demuxes every packet, decodes none.

    Raises:
        _Problem: not a video, not openable, or truncated (the last with the metadata read so far).
    """
    size = _size(stream)
    head = stream.read(64)
    stream.seek(0)
    try:
        container = av.open(stream, mode="r")
    except (av.FFmpegError, ValueError, OSError) as err:
        if sniff_video_mime(head) is None:
            raise _Problem(VidMetaReason.NOT_VIDEO) from err
        raise _Problem(VidMetaReason.DECODE_ERROR, f"cannot open container: {type(err).__name__}: {err}") from err
    with container:
        fmt = container.format.name
        if not container.streams.video:
            if sniff_video_mime(head) is None:
                raise _Problem(VidMetaReason.NOT_VIDEO)
            raise _Problem(VidMetaReason.DECODE_ERROR, f"{fmt} container without a readable video stream")
        if any(fmt == f or fmt.endswith(f) for f in _IMAGE_FORMATS) and sniff_video_mime(head) is None:
            raise _Problem(VidMetaReason.NOT_VIDEO)
        video = container.streams.video[0]
        ctx = video.codec_context
        audio = container.streams.audio
        m = _Meta(
            format=fmt, codec=ctx.name, width=ctx.width or None, height=ctx.height or None,
            fps=video.average_rate or video.guessed_rate or None,
            audio_codec=audio[0].codec_context.name if audio else None,
            bit_rate=container.bit_rate or None, bytes=size,
        )
        if video.duration and video.time_base:
            m.duration_s = float(video.duration * video.time_base)
        elif container.duration:
            m.duration_s = container.duration / 1_000_000  # AV_TIME_BASE
        packets = keys = 0
        end_pts: int | None = None
        past_end = False
        try:
            for packet in container.demux():
                if packet.pos is not None and packet.pos >= 0 and packet.pos + packet.size > size:
                    past_end = True
                if packet.stream.index != video.index or packet.size == 0:
                    continue
                packets += 1
                keys += bool(packet.is_keyframe)
                if packet.pts is not None:
                    last = packet.pts + (packet.duration or 0)
                    end_pts = last if end_pts is None else max(end_pts, last)
        except (av.FFmpegError, ValueError, OSError) as err:
            m.keyframes, m.frames, m.frames_counted = keys, packets, True
            raise _Problem(VidMetaReason.TRUNCATED, f"demux failed after {packets} video packets: {type(err).__name__}: {err}", m) from err
        reported = int(video.frames or 0)
        m.keyframes = keys
        m.frames, m.frames_counted = (reported, False) if reported > 0 else (packets, True)
        if past_end:
            raise _Problem(VidMetaReason.TRUNCATED, f"packets indexed past the end of the {size} bytes; {packets} video packets demuxed", m)
        if reported > packets:
            raise _Problem(VidMetaReason.TRUNCATED, f"container reports {reported} video frames; {packets} packets demuxed", m)
        if m.duration_s and end_pts is not None and video.time_base:
            covered = float((end_pts - (video.start_time or 0)) * video.time_base)
            if covered < m.duration_s - max(_TRUNCATION_SLACK_S, _TRUNCATION_SLACK_FRACTION * m.duration_s):
                raise _Problem(VidMetaReason.TRUNCATED, f"video packets end at {covered:.3f} s of a stated {m.duration_s:.3f} s", m)
        return m


@register
class VidMeta(VideoInputs, Filter[VidMetaParams]):
    """Container metadata of each sample's video (PyAV/FFmpeg demuxers, no decoding).

    Signals: ``vid_format`` (FFmpeg demuxer name, e.g. ``mov,mp4,m4a,3gp,3g2,mj2``), ``vid_codec``
    (video codec, e.g. ``h264``), ``vid_width``/``vid_height`` (px), ``vid_fps`` (average frame
    rate, frames/s) and its exact rational ``vid_fps_num``/``vid_fps_den``, ``vid_duration_s``
    (video stream duration × time base, as Data-Juicer's ``video_duration_filter`` reads it, before
    its rounding; else the container's), ``vid_frames`` (the container's frame count, or packets
    counted by demuxing when it reports none: ``vid_frames_counted``), ``vid_keyframes`` (video
    packets with the key flag), ``vid_audio_codec`` (null without audio), ``vid_bit_rate``
    (container bit rate, bit/s), ``vid_bytes`` (size of the video bytes).

    ``vid_meta_ok`` is true when the whole file demuxed; otherwise ``vid_meta_reason``
    (:class:`VidMetaReason`): ``missing_input`` and ``not_video`` carry no error, while
    ``unreadable_reference``, ``decode_error`` and ``truncated`` also write an ``errors`` entry
    (``truncated`` keeps the metadata read before the break).
    """

    name = "vid_meta"
    version = "1"
    Params = VidMetaParams
    Reason = VidMetaReason

    def __init__(self, params: VidMetaParams) -> None:
        super().__init__(params)
        require_modules(("av",), _INSTALL)  # fail at plan time, on the driver, not in a task
        self._av: Any = None

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema(
            [
                ("vid_format", pa.string()), ("vid_codec", pa.string()),
                ("vid_width", pa.int32()), ("vid_height", pa.int32()),
                ("vid_fps", pa.float64()), ("vid_fps_num", pa.int64()), ("vid_fps_den", pa.int64()),
                ("vid_duration_s", pa.float64()), ("vid_frames", pa.int64()), ("vid_frames_counted", pa.bool_()),
                ("vid_keyframes", pa.int64()), ("vid_audio_codec", pa.string()), ("vid_bit_rate", pa.int64()),
                ("vid_bytes", pa.int64()),
            ]
        )

    def setup(self) -> None:
        if self._av is not None:
            return
        try:
            import av
        except ImportError as err:
            raise MissingDependency(_INSTALL) from err
        av.logging.set_level(av.logging.PANIC)  # broken files are reported per row, not on stderr
        self._av = av

    def _column(self, batch: pa.RecordBatch, name: str) -> list[Any]:
        return batch.column(name).to_pylist() if name in batch.schema.names else [None] * batch.num_rows

    def measure(self, payload: bytes | None, uri: str | None, meta: dict[str, str] | None) -> tuple[_Meta | None, VidMetaReason | None, str | None]:
        """(metadata, reason, error message) of one row; never raises for bad input."""
        try:
            stream = open_video(payload, uri, meta)
        except PayloadRefError as err:
            return None, VidMetaReason.UNREADABLE_REFERENCE, str(err)
        if stream is None:
            return None, VidMetaReason.MISSING_INPUT, None
        try:
            with stream:
                return probe(self._av, stream), None, None
        except _Problem as p:
            return p.meta, p.reason, p.message
        except OSError as err:  # the referenced file failed mid-read
            return None, VidMetaReason.UNREADABLE_REFERENCE, f"{type(err).__name__}: {err}"
        except Exception as err:  # noqa: BLE001 - one bad file is an error row, never a failed batch
            return None, VidMetaReason.DECODE_ERROR, f"{type(err).__name__}: {err}"

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        self.setup()
        p = self.params
        rows: list[tuple[Any, ...]] = []
        reasons: list[str | None] = []
        errors: list[str | None] = []
        empty = _Meta().values()
        for payload, uri, meta in zip(self._column(batch, p.payload_column), self._column(batch, p.uri_column), self._column(batch, p.meta_column)):
            m, reason, err = self.measure(payload, uri, dict(meta) if meta else None)
            rows.append(m.values() if m is not None else empty)
            reasons.append(reason.value if reason else None)
            errors.append(err)
        schema = self.signal_schema
        columns = [pa.array([r[i] for r in rows], f.type) for i, f in enumerate(schema)]
        reason_arr = pa.array(reasons, pa.string())
        err_arr = pa.array(errors, pa.string())
        return FilterDecision(
            ok=reason_arr.is_null(),
            reason=reason_arr,
            signals=pa.RecordBatch.from_arrays(columns, schema=schema),
            errors=err_arr if err_arr.null_count < len(err_arr) else None,
        )
