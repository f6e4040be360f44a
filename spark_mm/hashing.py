"""The one streaming SHA-256 of a file's bytes (source file digests, model weights digests)."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 22


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 4 MiB chunks.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(b"abc"); f.flush()
    ...     sha256_file(f.name)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while buf := fh.read(_CHUNK):
            h.update(buf)
    return h.hexdigest()
