"""Replay moto's request recording into a restarted server: the dev store's persistence.

moto's recorder (``MOTO_ENABLE_RECORDING``, ``MOTO_RECORDER_FILEPATH``) appends one JSON line per
request, *before* serving it: method, URL, headers, body (base64 for bytes). moto's own replay
(``/moto-api/recorder/replay-recording``) resends every line as it is, which loses multipart
uploads: the restarted server hands out new upload ids, and the recorded ``UploadPart`` and
``CompleteMultipartUpload`` name the old ones. :func:`replay` maps each old id to the new one.

Only state-changing requests are kept (:func:`compact`): reads replay to nothing but time. A
request recorded while the server was killed may not have been served; replaying it anyway is
what a client retry would have done (an extra unreferenced data file at worst). A torn last line
(the kill fell inside the write) is dropped; a torn line elsewhere is an error, never skipped.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from spark_mm.errors import ConfigError

MUTATING = frozenset({"PUT", "POST", "DELETE"})
_UPLOAD_ID = re.compile(r"(?<=[?&]uploadId=)[^&]+")
_NEW_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


def compact(path: Path) -> list[dict[str, Any]]:
    """The state-changing entries of the recording at ``path``, which is rewritten to hold only them."""
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    kept: list[dict[str, Any]] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if n == len(lines):  # the server died while writing it
                continue
            raise ConfigError(f"object store recording {path}: line {n} is not JSON; the store's objects cannot be restored from it") from None
        if entry.get("method") in MUTATING and not urlsplit(entry.get("url", "")).path.startswith("/moto-api/"):
            kept.append(entry)
    path.write_text("".join(json.dumps(e) + "\n" for e in kept))
    return kept


def replay(entries: list[dict[str, Any]], endpoint: str) -> None:
    """Resend ``entries`` to the server at ``endpoint``, in order, old multipart upload ids mapped to new."""
    import requests  # moto's own dependency

    target = urlsplit(endpoint)
    mapped: dict[str, str] = {}
    pending: dict[str, deque[str]] = defaultdict(deque)  # object path -> new upload ids not yet matched to an old one
    with requests.Session() as session:
        for entry in entries:
            parts = urlsplit(entry["url"])
            query = parts.query
            old = _UPLOAD_ID.search("?" + query)
            if old:
                oid = old.group(0)
                if oid not in mapped and pending[parts.path]:
                    mapped[oid] = pending[parts.path].popleft()
                query = _UPLOAD_ID.sub(lambda m: mapped.get(m.group(0), m.group(0)), "?" + query)[1:]
            url = f"{target.scheme}://{target.netloc}{parts.path}" + (f"?{query}" if query else "")
            body: bytes | str = base64.b64decode(entry["body"]) if entry.get("body_encoded") else (entry.get("body") or "")
            headers = {k: v for k, v in (entry.get("headers") or {}).items() if k.lower() not in ("transfer-encoding", "content-length", "host")}
            answer = session.request(entry["method"], url, headers=headers, data=body, timeout=60)
            if entry["method"] == "POST" and re.search(r"(^|&)uploads(=|&|$)", parts.query):
                found = _NEW_UPLOAD_ID.search(answer.content)
                if found:
                    pending[parts.path].append(found.group(1).decode())
