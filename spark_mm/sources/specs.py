"""Source specifications as they appear under ``source:`` in a recipe (discriminated on ``type``)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from spark_mm.download.settings import FetchSettings
from spark_mm.lake.identifiers import NAME_PATTERN, column_name_problem

# WARC record types (WARC 1.1 §6); the default selection is the ones that hold a document.
WarcRecordType = Literal["warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation"]
DOCUMENT_RECORD_TYPES: tuple[WarcRecordType, ...] = ("response", "resource", "conversion")
_ID_SCOPE = "scope of id_column values in sample ids (docs/identity.md); default: {default}"


class _Source(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*")
    @classmethod
    def _column_names(cls, value: object, info: ValidationInfo) -> object:
        """Every ``*_column`` is refused here, before Spark starts, unless it is a plain column name."""
        if info.field_name and info.field_name.endswith("_column") and isinstance(value, str):
            problem = column_name_problem(value)
            if problem:
                raise ValueError(problem)
        return value


class ParquetSource(_Source):
    """Parquet files (a file, a directory or a glob). Hugging Face image structs are understood."""

    type: Literal["parquet"]
    path: str
    image_column: str | None = Field(None, description="binary column or HF image struct {bytes, path}")
    text_column: str | None = None
    url_column: str | None = None
    caption_column: str | None = None
    video_column: str | None = Field(None, description="binary column (or struct with 'bytes') of video bytes → payload")
    id_column: str | None = Field(None, description="the records' own id; default: file content digest + row index")
    id_scope: str | None = Field(None, description=_ID_SCOPE.format(default="the source root directory's name"))


class HuggingFaceSource(_Source):
    """A Hugging Face dataset: a hub id resolved through the local HF cache (or the hub when online), or a local folder."""

    type: Literal["hf"]
    dataset: str = Field(description="hub id (org/name) or a local directory of the dataset's files")
    split: str = "train"
    config: str | None = Field(None, description="dataset config (subset) name, when the repo has several")
    revision: str | None = None
    cache_dir: str | None = Field(None, description="HF hub cache; default $HF_HUB_CACHE / ~/.cache/huggingface/hub")
    offline: bool = Field(True, description="only use local files; set false to download from the hub")
    image_column: str | None = "image"
    text_column: str | None = None
    url_column: str | None = None
    caption_column: str | None = None
    id_column: str | None = None
    id_scope: str | None = Field(None, description=_ID_SCOPE.format(default="hf:<dataset>[/<config>]"))


class WarcSource(_Source):
    """WARC, WET or WAT files (a file, a directory or a glob); one input partition per file.

    WAT files are WARC ``metadata`` records (JSON): list ``metadata`` in ``record_types`` to ingest them.
    """

    type: Literal["warc"]
    path: str
    max_record_bytes: int = Field(16 * 1024 * 1024, gt=0, description="larger records become error rows")
    record_types: tuple[WarcRecordType, ...] = Field(
        DOCUMENT_RECORD_TYPES, min_length=1, description="WARC-Type values that become samples; others are counted and skipped"
    )


class JsonlSource(_Source):
    """JSON Lines text files (optionally .gz); one input partition per file."""

    type: Literal["jsonl"]
    path: str
    text_column: str = "text"
    id_column: str | None = Field(None, description="the records' own id (e.g. id); default: file content digest + line number")
    id_scope: str | None = Field(None, description=_ID_SCOPE.format(default="the source root directory's name"))
    url_column: str | None = "url"


class ImageFilesSource(_Source):
    """A directory (or glob) of image files, one sample per file (Spark's binaryFile reader)."""

    type: Literal["image_files"]
    path: str
    extensions: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
    max_file_bytes: int = Field(64 * 1024 * 1024, gt=0, description="larger files become error rows without their payload")


_INLINE_MAX = Field(
    64 * 1024 * 1024, gt=0, description="videos up to this many bytes travel in payload; larger ones are a reference (docs/video.md)"
)


class VideoFilesSource(_Source):
    """A directory (or glob) of video files, one sample per file; large files are referenced, not copied."""

    type: Literal["video_files"]
    path: str
    extensions: tuple[str, ...] = Field((".mp4", ".webm", ".mkv", ".mov"), min_length=1)
    inline_max_bytes: int = _INLINE_MAX


class WebDatasetSource(_Source):
    """WebDataset .tar shards (img2dataset / video2dataset layout), one sample per key; one partition per shard."""

    type: Literal["webdataset"]
    path: str
    inline_max_bytes: int = _INLINE_MAX
    max_image_bytes: int = Field(64 * 1024 * 1024, gt=0, description="larger image members become error rows without their bytes")
    id_field: str | None = Field(None, description="field of each key's .json holding the sample's own id; default: shard digest + key")
    id_scope: str | None = Field(None, description=_ID_SCOPE.format(default="the source root directory's name"))


class SampleImagesSource(_Source):
    """The embedded demo dataset: scikit-image's CC0 photos with realistic variants, generated on first use."""

    type: Literal["sample_images"]
    path: str | None = Field(None, description="refused: the sample is always generated under <home>/sample/")
    seed: int = 0

    @field_validator("path")
    @classmethod
    def _no_path(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError(
                "sample_images takes no path: the demo data is generated under <home>/sample/ and never written elsewhere; "
                "did you mean source.type=parquet? (to read your own files at that path)"
            )
        return None


class SampleVideosSource(_Source):
    """The embedded video sample: clips with hard cuts, a pan, a still and broken files, made from
    scikit-image's CC0 photos on first use (spark_mm/sources/sample_videos.py); read as ``video_files``."""

    type: Literal["sample_videos"]
    inline_max_bytes: int = _INLINE_MAX


class ImageLinksSource(_Source):
    """Image links of an Iceberg table (``<ns>.image_links``), fetched over HTTP: one sample per link.

    Resumable: links that already have a row in ``<ns>.samples`` are not fetched again, and the
    rest are fetched and committed ``chunk_links`` at a time (docs/image_text.md#downloader).
    """

    type: Literal["image_links"]
    namespace: str | None = Field(None, description="namespace of the links table; default: the recipe's namespace")
    table: str = Field("image_links", description="the links table (link_id, sample_id, page_url, url, alt, title, position, ...)")
    where: str | None = Field(None, description="Spark SQL predicate over the links table's columns, e.g. the LAION filters: 'laion_ok'")
    chunk_links: int = Field(10_000, ge=1, description="links fetched per commit: a killed run loses at most one chunk of fetches")
    fetch_tasks: int | None = Field(None, ge=1, description="Spark tasks per chunk (links of one host stay in one task); default: the default parallelism")
    fetch: FetchSettings = Field(default_factory=FetchSettings)

    @field_validator("namespace", "table")
    @classmethod
    def _names(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not NAME_PATTERN.match(value):
            raise ValueError(f"source.{info.field_name} {value!r} must match {NAME_PATTERN.pattern} (lower-case letters, digits, '_')")
        return value

    @field_validator("where")
    @classmethod
    def _where(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or ";" in value):
            raise ValueError("source.where must be one non-empty Spark SQL predicate (no ';'), e.g. 'laion_ok AND width_ok'")
        return value


SourceSpec = Annotated[
    Union[
        ParquetSource, HuggingFaceSource, WarcSource, JsonlSource, ImageFilesSource, VideoFilesSource, WebDatasetSource,
        SampleImagesSource, SampleVideosSource, ImageLinksSource,
    ],
    Field(discriminator="type"),
]
