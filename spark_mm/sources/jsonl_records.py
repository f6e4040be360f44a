"""JSON Lines records → bronze rows. A bad line becomes an error row, never an exception."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

from spark_mm.sources import filesystem
from spark_mm.sources.filesystem import Storage
from spark_mm.sources.warc_records import FILE_ERROR


def iter_jsonl_records(
    path: str, *, text_column: str, id_column: str | None, url_column: str | None, storage: Storage | None = None
) -> Iterator[dict[str, Any]]:
    """Yield one bronze row per line of a .jsonl / .jsonl.gz file.

    ``source_offset`` is the 0-based line index (an offset, like a Parquet row index; it feeds the
    positional id, so it never changes), while messages name the 1-based line number an editor
    shows (``line 11`` for the 11th line). A line whose ``id_column`` is missing or null is an
    error row (its id is then positional). ``path`` may be an ``s3://`` object (``sources.filesystem``).
    """
    try:
        with filesystem.open_input(path, storage) as raw, (gzip.open(raw, "rb") if path.endswith(".gz") else raw) as fh:
            for lineno, line in enumerate(fh):
                if not line.strip():
                    continue
                yield _row(line, lineno, text_column, id_column, url_column)
    except (OSError, EOFError) as err:  # truncated gzip, unreadable file: a row for the file, not a line
        yield {"source_offset": -1, "ingest_error": f"cannot read {path}: {err}", FILE_ERROR: True}


def _row(line: bytes, lineno: int, text_column: str, id_column: str | None, url_column: str | None) -> dict[str, Any]:
    where = f"line {lineno + 1}"  # 1-based, as editors, ``sed -n 11p`` and ``jq`` error messages count
    try:
        doc = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return {"source_offset": lineno, "ingest_error": f"{where}: invalid JSON: {err}"}
    if not isinstance(doc, dict):
        return {"source_offset": lineno, "ingest_error": f"{where}: expected an object, got {type(doc).__name__}"}
    text = doc.get(text_column)
    row: dict[str, Any] = {
        "source_offset": lineno,
        "source_record_id": str(doc[id_column]) if id_column and doc.get(id_column) is not None else None,
        "url": doc.get(url_column) if url_column and isinstance(doc.get(url_column), str) else None,
        "text": text if isinstance(text, str) else None,
        "record_meta": {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc.items() if k not in (text_column, id_column, url_column)},
    }
    errors = []
    if not isinstance(text, str):
        errors.append(f"{where}: field {text_column!r} missing or not a string")
    if id_column and row["source_record_id"] is None:
        errors.append(f"{where}: id column {id_column!r} missing or null")
    row["ingest_error"] = "; ".join(errors) or None
    return row
