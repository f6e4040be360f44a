"""A directory (or glob) of image files, local or on S3 → one bronze row per distinct file content.

Local files go through Spark's ``binaryFile`` reader; S3 objects are read on the executors through
``sources.filesystem`` into the same columns (Spark's reader would need Hadoop's S3A jars).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_mm.sources.base import SourceRead, copies_note, input_digest
from spark_mm.sources.digests import digest_files, distinct_contents
from spark_mm.sources import filesystem
from spark_mm.sources.filesystem import Storage, storage_for
from spark_mm.sources.files import list_files, source_key
from spark_mm.sources.ids import position_id_col
from spark_mm.sources.specs import ImageFilesSource


def read_image_files(spark: SparkSession, spec: ImageFilesSource, run_id: str) -> SourceRead:
    """One row per file (id: its bytes' SHA-256 at position 0); oversize files keep their row, with an error, not their payload.

    Byte-identical files are one sample: the first by path is read, the others are counted in a note.
    """
    exts = tuple(e.lower() for e in spec.extensions) + tuple(e.upper() for e in spec.extensions)
    storage = storage_for(spec.path)
    root, files = list_files(spec.path, exts, storage)
    digests = digest_files(spark, files, storage=storage)
    kept, copies = distinct_contents(digests)
    keys = spark.createDataFrame([(d.path, source_key(root, d.path)) for d in kept], "_path string, _key string")
    if storage is None:
        df = spark.read.format("binaryFile").load([d.path for d in kept])
        local = F.regexp_replace(F.col("path"), r"^file:/+", "/")
    else:
        df = _object_files(spark, [d.path for d in kept], storage)
        local = F.col("path")
    df = df.join(F.broadcast(keys), local == F.col("_path"), "left")
    too_big = F.col("length") > F.lit(spec.max_file_bytes)
    pos = position_id_col(F.sha2(F.col("content"), 256), F.lit(0))
    frame = df.select(
        pos.alias("sample_id"),
        F.col("path").alias("source_uri"),
        F.lit(0).cast("long").alias("source_offset"),
        F.col("_key").alias("source_record_id"),
        F.lit(run_id).alias("ingest_run_id"),
        F.lit(None).cast("string").alias("url"),
        F.lit(None).cast("string").alias("caption"),
        F.lit(None).cast("string").alias("text"),
        F.when(too_big, F.lit(None).cast("binary")).otherwise(F.col("content")).alias("image"),
        F.lit(None).cast("binary").alias("payload"),
        F.lit(None).cast("string").alias("mime_type"),
        F.create_map(F.lit("length"), F.col("length").cast("string"), F.lit("modified"), F.col("modificationTime").cast("string")).alias("record_meta"),
        F.when(too_big, F.concat(F.lit("file of "), F.col("length").cast("string"), F.lit(f" bytes exceeds max_file_bytes {spec.max_file_bytes}"))).alias("ingest_error"),
        F.lit(None).cast("boolean").alias("is_revisit"),
        F.lit(None).cast("string").alias("refers_to_record_id"),
        pos.alias("_pos_id"),
        F.lit(None).cast("string").alias("_skipped"),
    )
    return SourceRead(frame, input_digest("image_files", root, digests), None, copies_note(copies))


_BINARY_FILE_DDL = "path string, modificationTime timestamp, length bigint, content binary"


def _read_object(path: str, storage: Storage) -> tuple[str, datetime | None, int, bytes]:
    from pyarrow import fs as pafs

    info = filesystem._s3(storage).get_file_info(filesystem._arrow_path(path))
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"object vanished since listing: {path}")
    with filesystem.open_input(path, storage) as fh:
        content = fh.read()
    return path, info.mtime, len(content), content


def _object_files(spark: SparkSession, paths: list[str], storage: Storage) -> DataFrame:
    """Objects on S3 in the layout of Spark's ``binaryFile`` reader, read on the executors (one task per few objects)."""
    slices = max(1, min(len(paths), spark.sparkContext.defaultParallelism * 4))
    rdd = spark.sparkContext.parallelize(paths, slices).map(lambda p: _read_object(p, storage))
    return spark.createDataFrame(rdd, _BINARY_FILE_DDL)
