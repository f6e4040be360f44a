"""The one streaming SHA-256 of a file's bytes (source file digests, model weights digests)."""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

_CHUNK = 1 << 22


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 4 MiB chunks.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(b"abc"); f.flush()
    ...     sha256_file(f.name)[:16]
    'ba7816bf8f01cfea'
    """
    with open(path, "rb") as fh:
        return sha256_stream(fh)[0]


def sha256_stream(fh: BinaryIO) -> tuple[str, int]:
    """(hex SHA-256, byte count) of what ``fh`` yields to its end, read in 4 MiB chunks (local files, S3 objects).

    >>> import io
    >>> sha256_stream(io.BytesIO(b"abc"))[0][:16], sha256_stream(io.BytesIO(b"abc"))[1]
    ('ba7816bf8f01cfea', 3)
    """
    h = hashlib.sha256()
    n = 0
    while buf := fh.read(_CHUNK):
        h.update(buf)
        n += len(buf)
    return h.hexdigest(), n
