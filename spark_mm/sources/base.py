"""What every source reader returns, and the helpers they share (lineage digest, id scope)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_mm.sources import filesystem
from spark_mm.sources.digests import FileDigest


@dataclass(frozen=True)
class SourceRead:
    """The rows of a source, a lineage string naming the exact input bytes, and what the ingest needs to know.

    Attributes:
        frame: bronze columns plus ``_pos_id`` and ``_skipped`` (see ``sources.record_files``).
        input: ``<kind>:<root>:<n> files:sha256=<16 hex>`` over the files' content digests.
        id_field: the name of the native id (``WARC-Record-ID``, the ``id_column``), for messages; None when positional.
        notes: human-readable facts for the run summary (byte-identical files read once, ...).
    """

    frame: DataFrame
    input: str
    id_field: str | None = None
    notes: tuple[str, ...] = ()


def input_digest(kind: str, root: str | Path, digests: list[FileDigest]) -> str:
    """Lineage string over the content digests of every listed file (order- and name-independent).

    >>> input_digest("warc", Path("/c"), [FileDigest("/c/a", "d1", 1)])
    'warc:/c:1 files:sha256=8b53639f152c8fc6'
    """
    h = hashlib.sha256("\n".join(sorted(d.sha256 for d in digests)).encode())
    where = root if isinstance(root, str) else root.as_posix()
    return f"{kind}:{where}:{len(digests)} files:sha256={h.hexdigest()[:16]}"


def copies_note(copies: list[FileDigest]) -> tuple[str, ...]:
    """A summary note for files skipped because another listed file has the same bytes."""
    if not copies:
        return ()
    names = ", ".join(Path(c.path).name for c in copies[:3]) + (", ..." if len(copies) > 3 else "")
    return (f"{len(copies)} files byte-identical to another listed file read once ({names})",)


def default_scope(path: str, root: str | Path) -> str:
    """Scope of a dataset's ``id_column`` when ``id_scope`` is unset: the root directory's name, or a single file's stem.

    The same for a tree on disk and its copy on S3 (``s3://bucket/crawl`` → ``crawl``).

    >>> default_scope("/no/such/crawl", Path("/no/such/crawl")), default_scope("s3://b/data/crawl/", "s3://b/data/crawl")
    ('crawl', 'crawl')
    """
    if filesystem.is_s3(path):  # list_files gives a prefix (or glob) root itself, a single object its parent
        single = not any(ch in path for ch in filesystem.GLOB_CHARS) and path.rstrip("/") != str(root).rstrip("/")
        name = (path if single else str(root)).rstrip("/").rsplit("/", 1)[-1]
        return name.split(".", 1)[0] if single else name
    p = Path(path)
    if p.is_file():
        return p.name.split(".", 1)[0]
    return Path(root).name


def local_path(uri: Column) -> Column:
    """The plain local path of a Spark file URI (``file:/a%20b/c`` → ``/a b/c``), to match the driver's paths."""
    plain = F.regexp_replace(uri, r"^file:/+", "/")
    return F.url_decode(F.replace(plain, F.lit("+"), F.lit("%2B")))


def join_errors(*errors: Column) -> Column:
    """One ``ingest_error`` from several nullable messages, ``; ``-separated; null when all are null."""
    joined = F.concat_ws("; ", *errors)
    return F.when(joined != "", joined)
