"""Replay moto's request recording into a restarted server: the dev store's persistence.

moto's recorder (``MOTO_ENABLE_RECORDING``, ``MOTO_RECORDER_FILEPATH``) appends one JSON line per
request, *before* serving it: method, URL, headers, body (base64 for bytes). moto's own replay
(``/moto-api/recorder/replay-recording``) resends every line as it is, which loses multipart
uploads: the restarted server hands out new upload ids, and the recorded ``UploadPart`` and
``CompleteMultipartUpload`` name the old ones. :func:`replay` maps each old id to the new one.
It runs inside the new server's process before that server listens (:mod:`moto_server`): a client
still retrying against the port must never see the store half restored (a table's metadata file
missing reads as "no such table").

Only state-changing requests are kept (:func:`compact`): reads replay to nothing but time. A
request recorded while the server was killed may not have been served; replaying it anyway is
what a client retry would have done (an extra unreferenced data file at worst). Two entries that
concurrent requests left on one line are both kept. A torn last line (the kill fell inside the
write) is dropped; a torn line elsewhere is an error, never skipped.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from spark_mm.errors import ConfigError

MUTATING = frozenset({"PUT", "POST", "DELETE"})
_UPLOAD_ID = re.compile(r"(?<=[?&]uploadId=)[^&]+")
_NEW_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


def _entries(line: str) -> Iterator[dict[str, Any]]:
    """The JSON objects on one line of the recording, in order.

    moto's recorder writes an entry and its newline in two calls, from the thread serving the
    request, so two concurrent requests can leave ``{...}{...}`` on one line: decode them one after
    the other. Raises ValueError where the text is not JSON (a torn entry).
    """
    decoder, at = json.JSONDecoder(), 0
    while at < len(line):
        entry, at = decoder.raw_decode(line, at)
        yield entry
        while at < len(line) and line[at].isspace():
            at += 1


def compact(path: Path) -> list[dict[str, Any]]:
    """The state-changing entries of the recording at ``path``, which is rewritten to hold only them."""
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    kept: list[dict[str, Any]] = []
    for n, line in enumerate(lines, start=1):
        entries: list[dict[str, Any]] = []
        try:
            entries.extend(_entries(line.strip()))
        except ValueError:
            if n < len(lines):
                raise ConfigError(f"object store recording {path}: line {n} is not JSON; the store's objects cannot be restored from it") from None
            # the last line: the server died while writing it; the entries before the tear stand
        kept += [e for e in entries if e.get("method") in MUTATING and not urlsplit(e.get("url", "")).path.startswith("/moto-api/")]
    path.write_text("".join(json.dumps(e) + "\n" for e in kept))
    return kept


Send = Callable[[str, str, dict[str, str], bytes | str], tuple[int, bytes]]
"""(method, path with query, headers, body) -> (status, response body): one request to the new server."""


def replay(entries: list[dict[str, Any]], send: Send) -> None:
    """Resend ``entries`` in order through ``send``, old multipart upload ids mapped to new.

    Raises:
        ConfigError: the server refused one of them (its objects would not be what was recorded).
    """
    mapped: dict[str, str] = {}
    pending: dict[str, deque[str]] = defaultdict(deque)  # object path -> new upload ids not yet matched to an old one
    for n, entry in enumerate(entries, start=1):
        parts = urlsplit(entry["url"])
        query = parts.query
        old = _UPLOAD_ID.search("?" + query)
        if old:
            oid = old.group(0)
            if oid not in mapped and pending[parts.path]:
                mapped[oid] = pending[parts.path].popleft()
            query = _UPLOAD_ID.sub(lambda m: mapped.get(m.group(0), m.group(0)), "?" + query)[1:]
        body: bytes | str = base64.b64decode(entry["body"]) if entry.get("body_encoded") else (entry.get("body") or "")
        headers = {k: v for k, v in (entry.get("headers") or {}).items() if k.lower() not in ("transfer-encoding", "content-length", "host")}
        status, content = send(entry["method"], parts.path + (f"?{query}" if query else ""), headers, body)
        if status >= 400:
            raise ConfigError(f"replaying the object store's recording: request {n} ({entry['method']} {parts.path}) got HTTP {status}: {content[:300]!r}")
        if entry["method"] == "POST" and re.search(r"(^|&)uploads(=|&|$)", parts.query):
            found = _NEW_UPLOAD_ID.search(content)
            if found:
                pending[parts.path].append(found.group(1).decode())
