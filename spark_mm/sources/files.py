"""Finding a source's files and the stable key of each (its path relative to the source root).

A path is a local file, directory or glob, or the same on an S3 store (``s3://bucket/prefix``,
``s3://bucket/crawl/**/*.warc.gz``); ``sources.filesystem`` does the listing there. Roots and
files are strings (a ``Path`` would fold ``s3://`` into ``s3:/``). The key of a file is the same
whether the tree is read from disk or from a copy on S3, so its sample ids are too.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from spark_mm.errors import SourceError
from spark_mm.sources import filesystem
from spark_mm.sources.filesystem import Storage


def list_files(path: str, suffixes: tuple[str, ...], storage: Storage | None = None) -> tuple[str, list[str]]:
    """Expand a file, directory or glob (local or ``s3://``) into (root, sorted files with one of ``suffixes``).

    Files whose name starts with ``.`` or ``_`` are left out (``_SUCCESS``, editor temporaries).

    Raises:
        SourceError: nothing matches (the message names the path, and for S3 the settings used),
            or the store cannot be reached.
    """
    if filesystem.is_s3(path):
        root, files, single = filesystem.list_s3(path, storage)
        if single:
            return root, files
        if not files and not any(ch in path for ch in filesystem.GLOB_CHARS):
            where = filesystem._where(storage)
            raise SourceError(
                f"source path does not exist or is empty: {path} (no objects under it at {where}); "
                f"check source.path, and {filesystem.S3_SETTINGS_HINT}"
            )
    elif any(ch in path for ch in filesystem.GLOB_CHARS):
        matched = [Path(p).resolve() for p in glob.glob(path, recursive=True)]
        files = [str(f) for f in matched if f.is_file()]
        root = os.path.commonpath([str(Path(f).parent) for f in files]) if files else str(Path(path).parent.resolve())
    else:
        p = Path(path).resolve()
        if p.is_file():
            return str(p.parent), [str(p)]
        if not p.is_dir():
            raise SourceError(f"source path does not exist: {path}")
        files = [str(f) for f in p.rglob("*") if f.is_file()]
        root = str(p)
    files = sorted(f for f in files if _name(f).endswith(suffixes) and not _name(f).startswith((".", "_")))
    if not files:
        hint = f" ({filesystem._where(storage)}; {filesystem.S3_SETTINGS_HINT})" if filesystem.is_s3(path) else ""
        raise SourceError(f"no {'/'.join(suffixes)} files found at {path}{hint}")
    return root, files


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def source_key(root: str | Path, file: str | Path) -> str:
    """The machine-independent name of a file: its path relative to the source root, '/'-separated.

    >>> source_key("/data/crawl", "/data/crawl/2024/a.warc.gz"), source_key("s3://b/crawl", "s3://b/crawl/2024/a.warc.gz")
    ('2024/a.warc.gz', '2024/a.warc.gz')
    """
    r, f = str(root), str(file)
    if filesystem.is_s3(r):
        prefix = r.rstrip("/") + "/"
        if not f.startswith(prefix):
            raise ValueError(f"{f} is not under {r}")
        return f[len(prefix):]
    return Path(f).relative_to(r).as_posix()
