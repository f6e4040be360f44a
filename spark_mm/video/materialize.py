"""Clip bytes for ``clips: {materialize: true}``: each clip as a small video file of its own.

Clips are virtual by default (bounds into the parent video). Materialised, each clip row carries
``clip_bytes`` with ``clip_format`` (the container) and ``clip_method``:

- ``stream_copy`` when both ends of the clip fall on key *packets* (the first frame is a keyframe
  and the clip ends where the next keyframe starts, or at the end of the video): the packets
  between them are remuxed unchanged, so no quality is lost and no frame is decoded. Key packets
  are read off the demuxer, not the decoded frames' key flags, since that is what a copy needs.
- ``reencode`` otherwise: the clip's frames are decoded and encoded again (x264 in MP4, one
  thread, CRF 18; mpeg4 where PyAV has no x264). A cut between keyframes cannot be copied without
  breaking the frames that refer across it.

Both kinds come from one pass over the packets after a demux-only pass that finds the key
packets; the video is decoded (once, for all its re-encoded clips) only when a clip needs it. Copies keep the source's codec in a
container that holds it (MP4 for H.264/HEVC/MPEG-4/AV1, WebM for VP8/VP9, else Matroska).
A clip above ``max_bytes`` gets no bytes and ``clip_bytes_error`` says so; a failure on one video
becomes that error on its clips, never a failed batch.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO

from spark_mm.video.scenes import Clip, Frames

STREAM_COPY, REENCODE = "stream_copy", "reencode"
_COPY_FORMATS = {"h264": "mp4", "hevc": "mp4", "mpeg4": "mp4", "av1": "mp4", "vp8": "webm", "vp9": "webm"}
REENCODE_FORMAT = "mp4"
REENCODE_CRF = "18"


@dataclass
class ClipFile:
    """One clip's materialised file (``data`` None with ``error`` set when it could not be made)."""

    data: bytes | None
    format: str | None
    method: str | None
    error: str | None = None

    def columns(self) -> dict[str, Any]:
        return {"clip_bytes": self.data, "clip_format": self.format, "clip_method": self.method, "clip_bytes_error": self.error}


def _reencoder(av: Any) -> str:
    for name in ("libx264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # noqa: BLE001 - an encoder missing from this PyAV build
            continue
    raise RuntimeError("PyAV has neither libx264 nor mpeg4 encoders")


def key_packet_pts(av: Any, stream: BinaryIO) -> tuple[set[int], int]:
    """(pts of every key packet relative to the stream's start, the start) from a demux-only pass."""
    stream.seek(0)
    with av.open(stream, mode="r") as container:
        video = container.streams.video[0]
        start = video.start_time or 0
        keys = {p.pts - start for p in container.demux(video) if p.pts is not None and p.is_keyframe}
    return keys, start


def copyable(clip: Clip, frames: Frames, key_pts: set[int]) -> bool:
    """Both bounds on key packets (the end may be the end of the video)."""
    return clip.start_pts in key_pts and (clip.end_frame >= len(frames) or clip.end_pts in key_pts)


class _Copy:
    """Remuxes the packets from the clip's start key packet up to (not including) its end key packet."""

    def __init__(self, av: Any, template: Any, clip: Clip, start: int, fmt: str) -> None:
        self.av, self.clip, self.start, self.fmt = av, clip, start, fmt
        self.buffer = io.BytesIO()
        self.out = av.open(self.buffer, mode="w", format=fmt)
        self.stream = self.out.add_stream_from_template(template)
        self.open, self.done, self.first_pts, self.first_dts = False, False, 0, 0

    def offer(self, packet: Any) -> None:
        if self.done or packet.pts is None:
            return
        rel = packet.pts - self.start
        if not self.open:
            if packet.is_keyframe and rel == self.clip.start_pts:
                self.open, self.first_pts = True, packet.pts
                self.first_dts = packet.dts if packet.dts is not None else packet.pts
            else:
                return
        elif packet.is_keyframe and rel == self.clip.end_pts:
            self.done = True
            return
        # a new packet: muxing takes ownership, and overlapping clips (a stride under the clip
        # length) copy the same source packet again
        shift = min(self.first_pts, self.first_dts)
        own = self.av.Packet(bytes(packet))
        own.pts = packet.pts - shift
        own.dts = packet.dts - shift if packet.dts is not None else None
        own.time_base, own.is_keyframe, own.stream = packet.time_base, packet.is_keyframe, self.stream
        if packet.duration:
            own.duration = packet.duration
        self.out.mux(own)

    def finish(self) -> ClipFile:
        self.out.close()
        if not self.open:
            return ClipFile(None, None, None, "stream copy found no key packet at the clip's start")
        return ClipFile(self.buffer.getvalue(), self.fmt, STREAM_COPY)


class _Reencode:
    """Encodes the clip's frames (presentation indices ``start_frame`` .. ``end_frame``) again."""

    def __init__(self, av: Any, codec: str, clip: Clip, frames: Frames) -> None:
        self.av, self.clip = av, clip
        self.buffer = io.BytesIO()
        self.out = av.open(self.buffer, mode="w", format=REENCODE_FORMAT)
        rate = frames.fps if frames.fps else Fraction(25)
        self.stream = self.out.add_stream(codec, rate=rate)
        self.time_base = Fraction(1) / rate
        self.stream.width, self.stream.height = frames.width - frames.width % 2, frames.height - frames.height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.options = {"threads": "1", **({"crf": REENCODE_CRF} if codec == "libx264" else {})}
        self.written = 0

    def wants(self, index: int) -> bool:
        return self.clip.start_frame <= index < self.clip.end_frame

    def add(self, frame: Any) -> None:
        image = frame.reformat(width=self.stream.width, height=self.stream.height, format="yuv420p")
        image.pts, image.time_base = self.written, self.time_base  # 0, 1, 2, ... frames of the clip's rate
        self.out.mux(self.stream.encode(image))
        self.written += 1

    def finish(self) -> ClipFile:
        self.out.mux(self.stream.encode())
        self.out.close()
        expected = self.clip.end_frame - self.clip.start_frame
        if self.written != expected:
            return ClipFile(None, None, None, f"re-encode got {self.written} of the clip's {expected} frames")
        return ClipFile(self.buffer.getvalue(), REENCODE_FORMAT, REENCODE)


def materialize(av: Any, stream: BinaryIO, frames: Frames, clips: Sequence[Clip], max_bytes: int) -> list[ClipFile]:
    """One :class:`ClipFile` per clip of ``clips`` (bounds from :func:`~spark_mm.video.scenes.split` on the same stream)."""
    try:
        keys, start = key_packet_pts(av, stream)
        stream.seek(0)
        with av.open(stream, mode="r") as container:
            video = container.streams.video[0]
            fmt = _COPY_FORMATS.get(video.codec_context.name, "matroska")
            copies: dict[int, _Copy] = {}
            encodes: dict[int, _Reencode] = {}
            codec = None
            for i, clip in enumerate(clips):
                if copyable(clip, frames, keys):
                    copies[i] = _Copy(av, video, clip, start, fmt)
                else:
                    codec = codec or _reencoder(av)
                    encodes[i] = _Reencode(av, codec, clip, frames)
            index = 0  # presentation index of the next decoded frame
            for packet in container.demux(video):
                if encodes:  # decode before a copy re-times the packet for its own file
                    for frame in packet.decode():  # the flush packet at the end drains the decoder
                        for e in encodes.values():
                            if e.wants(index):
                                e.add(frame)
                        index += 1
                for c in copies.values():
                    c.offer(packet)
            files = {i: c.finish() for i, c in copies.items()} | {i: e.finish() for i, e in encodes.items()}
    except Exception as err:  # noqa: BLE001 - a bad video gives its clips an error, never a failed batch
        return [ClipFile(None, None, None, f"materialize failed: {type(err).__name__}: {err}") for _ in clips]
    out = []
    for i in range(len(clips)):
        f = files[i]
        if f.data is not None and len(f.data) > max_bytes:
            f = ClipFile(None, f.format, f.method, f"clip is {len(f.data)} bytes, over clips.materialize_max_bytes={max_bytes}")
        out.append(f)
    return out
