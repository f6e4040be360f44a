"""Finding a source's files and the stable key of each (its path relative to the source root)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from spark_mm.errors import SourceError


def list_files(path: str, suffixes: tuple[str, ...]) -> tuple[Path, list[Path]]:
    """Expand a file, directory or glob into (root, sorted files with one of ``suffixes``).

    Raises:
        SourceError: nothing matches.
    """
    if any(ch in path for ch in "*?["):
        files = [Path(p).resolve() for p in glob.glob(path, recursive=True)]
        root = Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path(path).parent.resolve()
    else:
        p = Path(path).resolve()
        if p.is_file():
            return p.parent, [p]
        if not p.is_dir():
            raise SourceError(f"source path does not exist: {path}")
        files = [f for f in p.rglob("*") if f.is_file()]
        root = p
    files = sorted(f for f in files if f.is_file() and f.name.endswith(suffixes) and not f.name.startswith((".", "_")))
    if not files:
        raise SourceError(f"no {'/'.join(suffixes)} files found at {path}")
    return root, files


def source_key(root: Path, file: Path) -> str:
    """The machine-independent name of a file: its path relative to the source root, '/'-separated."""
    return file.relative_to(root).as_posix()
