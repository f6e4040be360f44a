"""Content digests of a source's files, computed on the executors in one small Spark job.

A position-keyed sample id hashes the file's bytes (see ``sources.ids``), so every file of a source
is read once in full before it is parsed. The job runs one task per file group on the executors,
never serially on the driver; docs/identity.md gives the measured cost. A file that the same
source lists twice under different names (the same bytes) is read only once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession

from spark_mm.hashing import sha256_stream
from spark_mm.sources import filesystem
from spark_mm.sources.filesystem import Storage


@dataclass(frozen=True)
class FileDigest:
    """One input file: its path, the SHA-256 of its bytes, its size, and whether a Parquet footer failed."""

    path: str
    sha256: str
    size: int
    footer_error: str | None = None


def _probe(path: str, check_parquet: bool, storage: Storage | None = None) -> FileDigest:
    error = None
    if check_parquet:
        import pyarrow.parquet as pq

        try:
            with filesystem.open_input(path, storage) as fh:
                pq.read_metadata(fh)
        except Exception as err:  # noqa: BLE001 - any footer failure makes the file an error row
            error = f"unreadable Parquet file: {type(err).__name__}: {err}"
    with filesystem.open_input(path, storage) as fh:
        sha, n = sha256_stream(fh)
    return FileDigest(path, sha, n, error)


def digest_files(spark: SparkSession, files: list[str], *, check_parquet: bool = False, storage: Storage | None = None) -> list[FileDigest]:
    """Digests of ``files`` in their order, computed by a Spark job (one task per few files).

    Args:
        spark: the session whose executors read the files (they must see the same paths).
        files: the files of one source (local paths or ``s3://`` URIs).
        check_parquet: also read each Parquet footer, so unreadable files are known without a driver pass.
        storage: how executors reach an S3 store (resolved on the driver; travels in the task closure).
    """
    paths = [str(f) for f in files]
    slices = max(1, min(len(paths), spark.sparkContext.defaultParallelism * 4))
    flag = check_parquet
    where = storage if any(filesystem.is_s3(p) for p in paths) else None
    return spark.sparkContext.parallelize(paths, slices).map(lambda p: _probe(p, flag, where)).collect()


def distinct_contents(digests: list[FileDigest]) -> tuple[list[FileDigest], list[FileDigest]]:
    """Split into (first file of each content, later byte-identical copies), keeping the order.

    >>> a, b = FileDigest("/x/a", "d1", 1), FileDigest("/y/a", "d1", 1)
    >>> distinct_contents([a, b]) == ([a], [b])
    True
    """
    seen: set[str] = set()
    kept, copies = [], []
    for d in digests:
        (copies if d.sha256 in seen else kept).append(d)
        seen.add(d.sha256)
    return kept, copies
