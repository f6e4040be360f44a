"""Video bytes in the bronze table: inline in ``payload``, or a reference to a byte range of a file.

A video up to a source's ``inline_max_bytes`` travels inline in ``payload``. A larger one keeps
``payload`` null and is referenced instead, so a 2 GB video never crosses an Arrow batch whole:

- ``source_uri``: the file holding the bytes (a plain path, a ``file:`` URI, or an ``s3://`` object,
  read by ranged GETs through ``sources.filesystem`` with the executor's AWS settings);
- ``record_meta['payload_ref'] = 'external'``;
- ``record_meta['payload_offset']``: where the bytes start in that file (0 for a video file, the
  member's data offset for a WebDataset tar member);
- ``record_meta['payload_bytes']``: how many bytes (for inline payloads too, as a size).

:func:`open_video` is what workers use to read a sample's video either way. This module imports
neither pyspark nor PyAV: operators and readers share it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from spark_mm.sources import filesystem

PAYLOAD_REF = "payload_ref"
PAYLOAD_OFFSET = "payload_offset"
PAYLOAD_BYTES = "payload_bytes"
EXTERNAL = "external"
HEAD_BYTES = 64  # what :func:`sniff_video_mime` needs

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".webm", ".mkv", ".mov")
# extension → MIME type, when the header does not say (and for the source spec's defaults)
EXTENSION_MIME: dict[str, str] = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska",
    ".mov": "video/quicktime", ".avi": "video/x-msvideo",
}


class PayloadRefError(OSError):
    """A payload reference cannot be followed: the file is gone or shorter than the reference says."""


def sniff_video_mime(head: bytes) -> str | None:
    """MIME type of a video container from its first bytes (ISO-BMFF ``ftyp``, EBML, RIFF AVI); None if not one.

    QuickTime (``ftyp`` brand ``qt``) is told from MP4; Matroska from WebM by the EBML DocType.

    >>> sniff_video_mime(b"\\x00\\x00\\x00\\x18ftypisom\\x00\\x00\\x02\\x00")
    'video/mp4'
    >>> sniff_video_mime(b"\\x00\\x00\\x00\\x14ftypqt  ")
    'video/quicktime'
    >>> sniff_video_mime(b"\\x1aE\\xdf\\xa3\\x9fB\\x86\\x81\\x01B\\x82\\x84webm")
    'video/webm'
    >>> sniff_video_mime(b"\\xff\\xd8\\xff\\xe0") is None
    True
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm" if b"webm" in head[:HEAD_BYTES] else "video/x-matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    return None


def mime_for(head: bytes, name: str) -> str | None:
    """The sniffed container type, else the one the file name's extension implies, else None.

    >>> mime_for(b"not a header", "clip.MKV")
    'video/x-matroska'
    """
    return sniff_video_mime(head) or EXTENSION_MIME.get(os.path.splitext(name)[1].lower())


def reference_meta(offset: int, length: int) -> dict[str, str]:
    """The ``record_meta`` entries of an external payload of ``length`` bytes at ``offset``.

    >>> reference_meta(0, 10)
    {'payload_ref': 'external', 'payload_offset': '0', 'payload_bytes': '10'}
    """
    return {PAYLOAD_REF: EXTERNAL, PAYLOAD_OFFSET: str(offset), PAYLOAD_BYTES: str(length)}


def is_reference(meta: Mapping[str, str] | None) -> bool:
    """Whether ``record_meta`` marks the payload as held outside the row."""
    return bool(meta) and meta.get(PAYLOAD_REF) == EXTERNAL  # type: ignore[union-attr]


def local_file(uri: str) -> str:
    """The local path of ``source_uri`` (``file:/a%20b`` → ``/a b``; plain paths unchanged).

    >>> local_file("file:/data/a%20b.mp4"), local_file("/data/x.mp4")
    ('/data/a b.mp4', '/data/x.mp4')
    """
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return uri


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes at ``offset`` of an open file."""

    def __init__(self, fh: BinaryIO, offset: int, length: int) -> None:
        self._fh, self._start, self._len, self._pos = fh, offset, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._len}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def, override]
        n = min(len(buf), self._len - self._pos)
        if n <= 0:
            return 0
        self._fh.seek(self._start + self._pos)
        got = self._fh.readinto(memoryview(buf)[:n])  # type: ignore[attr-defined]
        self._pos += got or 0
        return got or 0

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_video(payload: bytes | None, source_uri: str | None, meta: Mapping[str, str] | None) -> BinaryIO | None:
    """A seekable binary stream over a sample's video bytes: inline → BytesIO, reference → the file range.

    Returns None when the row has neither (no payload and no reference). The caller closes the stream.

    Raises:
        PayloadRefError: the reference is malformed, or its file is missing or shorter than
            ``payload_offset + payload_bytes`` (the file changed since ingest).
    """
    if payload is not None:
        return io.BytesIO(payload)
    if not is_reference(meta) or not source_uri:
        return None
    assert meta is not None
    try:
        offset, length = int(meta[PAYLOAD_OFFSET]), int(meta[PAYLOAD_BYTES])
    except (KeyError, ValueError) as err:
        raise PayloadRefError(f"malformed payload reference {dict(meta)!r}: {err}") from err
    path = local_file(source_uri)
    try:
        size = filesystem.size(path)
    except OSError as err:
        hint = f"; {filesystem.S3_SETTINGS_HINT} on the executors (spark.executorEnv.*)" if filesystem.is_s3(path) else ""
        raise PayloadRefError(f"referenced file unreadable: {path}: {getattr(err, 'strerror', None) or err}{hint}") from err
    if offset < 0 or length < 0 or offset + length > size:
        raise PayloadRefError(f"reference {offset}+{length} bytes runs past the end of {path} ({size} bytes): the file changed since ingest")
    return io.BufferedReader(_Window(filesystem.open_input(path), offset, length), buffer_size=1 << 20)  # type: ignore[return-value]
