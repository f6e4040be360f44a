"""Every source → a DataFrame in the bronze samples schema, through one registry of readers.

A reader takes ``(spark, spec, run_id)`` and returns a :class:`SourceRead`. ``SOURCE_READERS``
maps each spec class of ``sources.specs`` to its reader, so adding a source is one entry here and
one spec class, never another branch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import SparkSession

from spark_mm.errors import SourceError
from spark_mm.sources.base import SourceRead
from spark_mm.sources.image_files import read_image_files
from spark_mm.sources.parquet import read_hf, read_parquet, read_sample_images
from spark_mm.sources.records import read_jsonl, read_sample_videos, read_video_files, read_warc, read_webdataset
from spark_mm.sources.specs import (
    HuggingFaceSource, ImageFilesSource, JsonlSource, ParquetSource, SampleImagesSource, SampleVideosSource, VideoFilesSource, WarcSource,
    WebDatasetSource,
)

SourceReader = Callable[[SparkSession, Any, str], SourceRead]

SOURCE_READERS: dict[type, SourceReader] = {
    ParquetSource: read_parquet,
    HuggingFaceSource: read_hf,
    WarcSource: read_warc,
    JsonlSource: read_jsonl,
    ImageFilesSource: read_image_files,
    VideoFilesSource: read_video_files,
    WebDatasetSource: read_webdataset,
    SampleImagesSource: read_sample_images,
    SampleVideosSource: read_sample_videos,
}

__all__ = ["SOURCE_READERS", "SourceRead", "read_source"]


def read_source(spark: SparkSession, spec: object, run_id: str) -> SourceRead:
    """Read ``spec`` with the reader registered for its class.

    Raises:
        SourceError: no reader is registered for the spec's class.
    """
    reader = SOURCE_READERS.get(type(spec))
    if reader is None:
        raise SourceError(f"no source reader registered for {type(spec).__name__}; registered: {sorted(c.__name__ for c in SOURCE_READERS)}")
    return reader(spark, spec, run_id)
