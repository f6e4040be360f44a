"""Record-file sources (WARC/WET, JSON Lines, video files, WebDataset shards): digest the files on
the executors, then parse one file per partition (``sources.record_files``)."""

from __future__ import annotations

import json

from pyspark.sql import SparkSession

from spark_mm.sources.base import SourceRead, copies_note, default_scope, input_digest
from spark_mm.sources.digests import digest_files, distinct_contents
from spark_mm.sources.filesystem import STORAGE_OPTION, storage_for
from spark_mm.sources.files import list_files
from spark_mm.sources.specs import JsonlSource, SampleVideosSource, VideoFilesSource, WarcSource, WebDatasetSource

WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".warc.wet.gz", ".wat", ".wat.gz")  # WAT: WARC metadata records
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")
WEBDATASET_SUFFIXES = (".tar",)


def both_cases(extensions: tuple[str, ...]) -> tuple[str, ...]:
    """``extensions`` in lower and upper case (``.mp4`` and ``.MP4``), for :func:`list_files`."""
    return tuple(e.lower() for e in extensions) + tuple(e.upper() for e in extensions)


def read_warc(spark: SparkSession, spec: WarcSource, run_id: str) -> SourceRead:
    """WARC/WET/WAT records of the selected ``record_types``, keyed by WARC-Record-ID (scope ``warc``)."""
    root, files = list_files(spec.path, WARC_SUFFIXES, storage_for(spec.path))
    options = {"format": "warc", "max_record_bytes": str(spec.max_record_bytes), "record_types": json.dumps(list(spec.record_types))}
    return _read(spark, "warc", root, files, run_id, options, "WARC-Record-ID")


def read_jsonl(spark: SparkSession, spec: JsonlSource, run_id: str) -> SourceRead:
    """JSON Lines records, keyed by ``id_column`` (scoped by ``id_scope`` or the root's name) or by line number."""
    root, files = list_files(spec.path, JSONL_SUFFIXES, storage_for(spec.path))
    options = {
        "format": "jsonl", "text_column": spec.text_column, "id_column": spec.id_column or "",
        "id_scope": spec.id_scope or default_scope(spec.path, root), "url_column": spec.url_column or "",
    }
    return _read(spark, "jsonl", root, files, run_id, options, spec.id_column)


def read_video_files(spark: SparkSession, spec: VideoFilesSource, run_id: str) -> SourceRead:
    """One row per distinct video file (id: its content digest at position 0, as an image file's)."""
    root, files = list_files(spec.path, both_cases(spec.extensions), storage_for(spec.path))
    options = {"format": "video", "root": root, "inline_max_bytes": str(spec.inline_max_bytes)}
    return _read(spark, "video_files", root, files, run_id, options, None)


def read_sample_videos(spark: SparkSession, spec: SampleVideosSource, run_id: str) -> SourceRead:
    """The embedded video sample, written under ``<home>/sample/`` on first use, read as video files."""
    from spark_mm.sources.sample_videos import ensure_sample_videos

    files = VideoFilesSource(type="video_files", path=str(ensure_sample_videos()), inline_max_bytes=spec.inline_max_bytes)
    return read_video_files(spark, files, run_id)


def read_webdataset(spark: SparkSession, spec: WebDatasetSource, run_id: str) -> SourceRead:
    """One row per key of each .tar shard; ids from (shard digest, key), or ``id_field`` of the key's json."""
    root, files = list_files(spec.path, WEBDATASET_SUFFIXES, storage_for(spec.path))
    options = {
        "format": "webdataset", "inline_max_bytes": str(spec.inline_max_bytes), "max_image_bytes": str(spec.max_image_bytes),
        "id_column": spec.id_field or "", "id_scope": spec.id_scope or default_scope(spec.path, root),
    }
    return _read(spark, "webdataset", root, files, run_id, options, spec.id_field)


def _read(spark: SparkSession, kind: str, root: str, files: list[str], run_id: str, options: dict[str, str], id_field: str | None) -> SourceRead:
    from spark_mm.sources.record_files import RecordFilesDataSource

    storage = storage_for(root, *files)
    digests = digest_files(spark, files, storage=storage)
    kept, copies = distinct_contents(digests)
    spark.dataSource.register(RecordFilesDataSource)
    pairs = [[d.path, d.sha256] for d in kept]
    reader = spark.read.format(RecordFilesDataSource.name()).option("files", json.dumps(pairs)).option("run_id", run_id)
    if storage is not None:  # executors do not share the driver's environment; the key makes Spark redact it
        reader = reader.option(STORAGE_OPTION, storage.to_json())
    for k, v in options.items():
        reader = reader.option(k, v)
    return SourceRead(reader.load(), input_digest(kind, root, digests), id_field, copies_note(copies))
