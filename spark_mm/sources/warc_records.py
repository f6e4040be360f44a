"""WARC / WET records -> bronze sample dicts, one per record, never an exception per record.

``iter_warc_records`` is what the Spark WARC data source calls (one partition per file). Every
record of the file becomes one dict in the bronze ``samples`` layout (``sample_id`` is left to the
reader, see ``sources.ids``). Records that cannot be read become dicts with ``ingest_error`` set,
so rows in = records in; when the file itself breaks mid-way (truncated gzip member, garbage
instead of a header) one final error row records where, flagged with ``FILE_ERROR`` so it gets an
id of its own instead of the last good record's. Which record types become samples is the
reader's choice (``source.record_types``); this iterator yields every record.

Handled: multi-member gzip and plain WARC (warcio), WARC/1.0, 1.1 and ClueWeb09's WARC/0.18,
truncated records (fewer bytes than ``Content-Length``), ``revisit`` records (no payload;
``is_revisit`` is set, ``refers_to_record_id`` names the original record, the digest and other
refers-to fields go to ``record_meta``), chunked transfer and content encodings
(decoded), non-HTML payloads (kept as bytes with their MIME type), malformed dates (kept
verbatim), oversize records (payload dropped, error set), WET ``conversion`` records (their
text goes to ``text``) and ``metadata`` records (their body goes to ``payload``: WAT files are
WARC metadata records with a JSON body, ``mime_type`` ``application/json``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from spark_mm.errors import SourceError
from spark_mm.sources import filesystem
from spark_mm.sources.filesystem import Storage

# record_meta keys copied from WARC headers when present
_WARC_META = (
    "WARC-Type",
    "WARC-Date",
    "WARC-Target-URI",
    "WARC-IP-Address",
    "WARC-Payload-Digest",
    "WARC-Block-Digest",
    "WARC-Refers-To",
    "WARC-Refers-To-Target-URI",
    "WARC-Refers-To-Date",
    "WARC-Profile",
    "WARC-Truncated",
    "WARC-Identified-Payload-Type",
    "WARC-Identified-Content-Language",
    "WARC-Concurrent-To",
    "WARC-Filename",
)

_CHUNK = 1 << 16

# key present (True) only in a row that stands for a failure of the file, not for one record
FILE_ERROR = "_file_error"


def _empty_row(path: str, run_id: str | None) -> dict[str, Any]:
    return {
        "source_uri": path,
        "source_offset": None,
        "source_record_id": None,
        "ingest_run_id": run_id,
        "url": None,
        "caption": None,
        "text": None,
        "image": None,
        "payload": None,
        "mime_type": None,
        "record_meta": None,
        "ingest_error": None,
        "is_revisit": None,
        "refers_to_record_id": None,
    }


def _read_capped(stream: Any, limit: int) -> tuple[bytes, bool]:
    """Read up to ``limit`` bytes; (data, True) when there was more."""
    parts: list[bytes] = []
    n = 0
    while True:
        buf = stream.read(min(_CHUNK, limit + 1 - n))
        if not buf:
            return b"".join(parts), False
        parts.append(buf)
        n += len(buf)
        if n > limit:
            return b"".join(parts)[:limit], True


def _drain(stream: Any) -> None:
    while stream.read(_CHUNK):
        pass


def _record_row(record: Any, path: str, offset: int, run_id: str | None, max_record_bytes: int) -> dict[str, Any]:
    row = _empty_row(path, run_id)
    row["source_offset"] = offset
    h = record.rec_headers
    meta: dict[str, str] = {"warc_version": str(h.protocol or "")}
    for k in _WARC_META:
        v = h.get_header(k)
        if v is not None:
            meta[k] = v
    rec_type = record.rec_type
    row["source_record_id"] = h.get_header("WARC-Record-ID") or h.get_header("WARC-TREC-ID")
    row["url"] = h.get_header("WARC-Target-URI")
    row["is_revisit"] = rec_type == "revisit"
    row["refers_to_record_id"] = h.get_header("WARC-Refers-To")  # revisit → original; WET conversion → response
    declared = h.get_header("Content-Length")
    if declared is not None:
        meta["content_length"] = declared
    errors: list[str] = []
    http = record.http_headers
    if http is not None and rec_type in ("response", "revisit"):
        meta["http_status"] = str(http.get_statuscode() or "")
        ctype = http.get_header("Content-Type")
        if ctype:
            meta["content_type"] = ctype
            row["mime_type"] = ctype.split(";")[0].strip().lower() or None
        for k in ("Content-Encoding", "Transfer-Encoding", "Content-Language", "Last-Modified"):
            v = http.get_header(k)
            if v:
                meta[k.lower().replace("-", "_")] = v
    elif h.get_header("Content-Type"):
        meta["content_type"] = h.get_header("Content-Type")
        row["mime_type"] = meta["content_type"].split(";")[0].strip().lower() or None
    try:
        if rec_type == "revisit":
            _drain(record.raw_stream)  # a revisit's payload lives in the record it refers to
        elif rec_type in ("response", "resource", "conversion", "metadata"):
            body, oversize = _read_capped(record.content_stream(), max_record_bytes)
            if oversize:
                errors.append(f"oversize record: payload over max_record_bytes {max_record_bytes}; dropped")
            elif rec_type == "conversion":
                row["text"] = body.decode("utf-8", errors="replace")
                row["mime_type"] = row["mime_type"] or "text/plain"
            else:
                row["payload"] = body
        _drain(record.raw_stream)
    except Exception as e:  # noqa: BLE001 - a corrupt body (bad chunking, bad gzip) is this record's error
        errors.append(f"unreadable payload: {type(e).__name__}: {e}")
        try:
            _drain(record.raw_stream)
        except Exception:  # noqa: BLE001 - the file-level loop reports what follows
            pass
    remaining = getattr(record.raw_stream, "limit", 0)
    if remaining:
        errors.append(f"truncated record: {remaining} of {declared} declared bytes missing")
    row["record_meta"] = meta
    row["ingest_error"] = "; ".join(errors) or None
    return row


def iter_warc_records(
    path: str, *, max_record_bytes: int = 64 * 1024 * 1024, ingest_run_id: str | None = None, storage: Storage | None = None
) -> Iterator[dict[str, Any]]:
    """Yield one bronze row per WARC (or WET/WAT) record of ``path``.

    Args:
        path: a ``.warc``, ``.warc.gz``, ``.wet.gz`` or ``.wat.gz`` file (local, or ``s3://``).
        max_record_bytes: payloads larger than this are dropped and the row gets an error.
        ingest_run_id: copied into every row.
        storage: how to reach an S3 store (``sources.filesystem``); None: the environment's settings.

    Returns:
        An iterator of dicts with the bronze ``samples`` columns except ``sample_id``.

    Raises:
        SourceError: the file does not exist or cannot be opened (bad records never raise).
    """
    from warcio.archiveiterator import ArchiveIterator

    if not filesystem.is_s3(path) and not os.path.isfile(path):
        raise SourceError(f"WARC file not found: {path}")
    try:
        fh = filesystem.open_input(path, storage)  # closed in finally; the generator may stop early
    except FileNotFoundError as e:
        raise SourceError(f"WARC file not found: {path}") from e
    except OSError as e:
        raise SourceError(f"cannot open WARC file {path}: {e}") from e
    try:
        it = ArchiveIterator(fh, check_digests=False)
        last_offset = 0
        while True:
            try:
                record = next(it)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001 - the rest of the file is unreadable: one error row
                row = _empty_row(path, ingest_run_id)
                row["source_offset"] = last_offset
                row["ingest_error"] = f"unreadable WARC data after offset {last_offset}: {type(e).__name__}: {e}"
                row[FILE_ERROR] = True
                yield row
                return
            # the start of this record; get_record_offset() would read the record to its end
            offset = it.offset
            last_offset = offset
            yield _record_row(record, path, offset, ingest_run_id, max_record_bytes)
    finally:
        fh.close()
