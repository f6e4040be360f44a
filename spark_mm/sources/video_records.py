"""Video files → one bronze row each: bytes inline up to ``inline_max_bytes``, a reference above.

Runs on an executor, one file per partition (``sources.record_files``). The row's id is positional
at offset 0 of the file's content digest, as for an image file, so the same bytes renamed keep
their id. An unreadable file is a file-level error row, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from spark_mm.sources import filesystem
from spark_mm.sources.filesystem import Storage
from spark_mm.sources.video_bytes import HEAD_BYTES, PAYLOAD_BYTES, mime_for, reference_meta
from spark_mm.sources.warc_records import FILE_ERROR


def iter_video_file(path: str, *, key: str, inline_max_bytes: int, storage: Storage | None = None) -> Iterator[dict[str, Any]]:
    """Yield the one bronze row of the video file at ``path`` (``key``: its path relative to the source root).

    ``record_meta`` carries ``payload_bytes`` (the file's size), and for a file over
    ``inline_max_bytes`` the reference entries of ``sources.video_bytes`` instead of a payload.
    """
    try:
        size = filesystem.size(path, storage)
        with filesystem.open_input(path, storage) as fh:
            head = fh.read(HEAD_BYTES)
            fh.seek(0)
            payload = fh.read() if size <= inline_max_bytes else None
    except OSError as err:
        yield {"source_offset": 0, "source_record_id": key, "ingest_error": f"cannot read {path}: {err}", FILE_ERROR: True}
        return
    meta = {PAYLOAD_BYTES: str(size)} if payload is not None else reference_meta(0, size)
    yield {
        "source_offset": 0,
        "source_record_id": key,
        "payload": payload,
        "mime_type": mime_for(head, path),
        "record_meta": meta,
        "ingest_error": None if size else "empty file",
    }
