"""Every source → a DataFrame in the bronze samples schema, plus a digest of what was read."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.lake.schema import SAMPLES_COLUMNS
from spark_mm.sources.files import list_files, source_key
from spark_mm.sources.ids import sample_id_col
from spark_mm.sources.specs import HuggingFaceSource, ImageFilesSource, JsonlSource, ParquetSource, SampleImagesSource, WarcSource


@dataclass(frozen=True)
class SourceRead:
    """The bronze rows of a source and a lineage string naming the exact input files."""

    frame: DataFrame
    input: str


def files_digest(kind: str, root: Path, files: list[Path]) -> str:
    """``kind:<n> files:<sha256>`` over (relative path, size, mtime) of every input file."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{source_key(root, f)}\0{st.st_size}\0{int(st.st_mtime)}\n".encode())
    return f"{kind}:{root.as_posix()}:{len(files)} files:sha256={h.hexdigest()[:16]}"


def read_source(spark: SparkSession, spec: object, run_id: str) -> SourceRead:
    """Dispatch on the source spec type."""
    if isinstance(spec, SampleImagesSource):
        from spark_mm.sources.sample import ensure_sample

        path = ensure_sample(spec.path, seed=spec.seed)
        spec = ParquetSource(type="parquet", path=str(path), image_column="image", url_column="url", caption_column="caption", id_column="key")
    if isinstance(spec, ParquetSource):
        root, files = list_files(spec.path, (".parquet",))
        return SourceRead(_read_parquet(spark, spec, root, files, run_id), files_digest("parquet", root, files))
    if isinstance(spec, HuggingFaceSource):
        from spark_mm.sources.hf import resolve_hf_files

        root, files = resolve_hf_files(spec)
        pspec = ParquetSource(
            type="parquet", path=str(root), image_column=spec.image_column, text_column=spec.text_column,
            url_column=spec.url_column, caption_column=spec.caption_column, id_column=spec.id_column,
        )
        return SourceRead(_read_parquet(spark, pspec, root, files, run_id), files_digest(f"hf={spec.dataset}/{spec.split}", root, files))
    if isinstance(spec, WarcSource):
        root, files = list_files(spec.path, (".warc", ".warc.gz", ".wet", ".wet.gz", ".warc.wet.gz"))
        options = {"format": "warc", "max_record_bytes": str(spec.max_record_bytes)}
        return SourceRead(_read_records(spark, root, files, run_id, options), files_digest("warc", root, files))
    if isinstance(spec, JsonlSource):
        root, files = list_files(spec.path, (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson"))
        options = {"format": "jsonl", "text_column": spec.text_column, "id_column": spec.id_column or "", "url_column": spec.url_column or ""}
        return SourceRead(_read_records(spark, root, files, run_id, options), files_digest("jsonl", root, files))
    if isinstance(spec, ImageFilesSource):
        exts = tuple(e.lower() for e in spec.extensions) + tuple(e.upper() for e in spec.extensions)
        root, files = list_files(spec.path, exts)
        return SourceRead(_read_image_files(spark, spec, root, files, run_id), files_digest("image_files", root, files))
    raise TypeError(f"unsupported source spec {type(spec).__name__}")


def _read_records(spark: SparkSession, root: Path, files: list[Path], run_id: str, options: dict[str, str]) -> DataFrame:
    from spark_mm.sources.record_files import RecordFilesDataSource

    spark.dataSource.register(RecordFilesDataSource)
    pairs = [[str(f), source_key(root, f)] for f in files]
    reader = spark.read.format(RecordFilesDataSource.name()).option("files", json.dumps(pairs)).option("run_id", run_id)
    for k, v in options.items():
        reader = reader.option(k, v)
    return reader.load()


def _bad_parquet_files(files: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split files into readable ones and (file, error) for those whose footer cannot be read."""
    good, bad = [], []
    for f in files:
        try:
            pq.read_metadata(f)
            good.append(f)
        except Exception as err:  # noqa: BLE001 - any footer failure makes the file an error row
            bad.append((f, f"unreadable Parquet file: {type(err).__name__}: {err}"))
    return good, bad


def _read_parquet(spark: SparkSession, spec: ParquetSource, root: Path, files: list[Path], run_id: str) -> DataFrame:
    good, bad = _bad_parquet_files(files)
    frames = []
    if good:
        frames.append(_parquet_rows(spark, spec, root, good, run_id))
    if bad:
        frames.append(_error_rows(spark, root, bad, run_id))
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def _parquet_rows(spark: SparkSession, spec: ParquetSource, root: Path, files: list[Path], run_id: str) -> DataFrame:
    df = spark.read.parquet(*[f.as_uri() for f in files])
    fields = {f.name: f.dataType for f in df.schema.fields}
    for col in (spec.image_column, spec.text_column, spec.url_column, spec.caption_column, spec.id_column):
        if col and col not in fields:
            from spark_mm.errors import SourceError

            raise SourceError(f"column {col!r} not found in {spec.path}; columns: {sorted(fields)}")
    root_prefix = root.as_posix().rstrip("/") + "/"
    local_path = F.regexp_replace(F.col("_metadata.file_path"), r"^file:/+", "/")
    key = F.substring(local_path, len(root_prefix) + 1, 1 << 20)
    record_key = F.col(spec.id_column).cast("string") if spec.id_column else F.col("_metadata.row_index").cast("string")

    image: Column = F.lit(None).cast("binary")
    error: Column = F.lit(None).cast("string")
    if spec.image_column:
        dtype = fields[spec.image_column]
        if isinstance(dtype, T.StructType) and "bytes" in dtype.fieldNames():
            # Hugging Face image feature: {bytes, path}; a path-only row has no payload to curate.
            image = F.col(f"`{spec.image_column}`.bytes")
            path_col = F.col(f"`{spec.image_column}`.path") if "path" in dtype.fieldNames() else F.lit(None)
            error = F.when(image.isNull(), F.concat(F.lit("image bytes missing (path only: "), F.coalesce(path_col, F.lit("none")), F.lit(")")))
        elif isinstance(dtype, T.BinaryType):
            image = F.col(spec.image_column)
            error = F.when(image.isNull(), F.lit("null image payload"))
        else:
            from spark_mm.errors import SourceError

            raise SourceError(f"image_column {spec.image_column!r} is {dtype.simpleString()}; expected binary or a struct with a 'bytes' field")

    def text(col: str | None) -> Column:
        return F.col(col).cast("string") if col else F.lit(None).cast("string")

    mapped = {c for c in (spec.image_column, spec.text_column, spec.url_column, spec.caption_column, spec.id_column) if c}
    extra = [n for n, t in fields.items() if n not in mapped and isinstance(t, (T.StringType, T.NumericType, T.BooleanType, T.DateType, T.TimestampType))]
    meta = F.create_map(*[x for n in extra for x in (F.lit(n), F.col(n).cast("string"))]) if extra else F.lit(None).cast("map<string,string>")
    return df.select(
        sample_id_col(key, record_key).alias("sample_id"),
        F.col("_metadata.file_path").alias("source_uri"),
        F.col("_metadata.row_index").cast("long").alias("source_offset"),
        (F.col(spec.id_column).cast("string") if spec.id_column else F.lit(None).cast("string")).alias("source_record_id"),
        F.lit(run_id).alias("ingest_run_id"),
        text(spec.url_column).alias("url"),
        text(spec.caption_column).alias("caption"),
        text(spec.text_column).alias("text"),
        image.alias("image"),
        F.lit(None).cast("binary").alias("payload"),
        F.lit(None).cast("string").alias("mime_type"),
        meta.alias("record_meta"),
        error.alias("ingest_error"),
    )


def _error_rows(spark: SparkSession, root: Path, bad: list[tuple[Path, str]], run_id: str) -> DataFrame:
    from spark_mm.sources.ids import sample_id
    from spark_mm.sources.record_files import SAMPLES_DDL

    rows = []
    for f, msg in bad:
        row = dict.fromkeys(SAMPLES_COLUMNS)
        row.update(sample_id=sample_id(source_key(root, f), -1), source_uri=f.as_uri(), source_offset=-1, ingest_run_id=run_id, ingest_error=msg)
        rows.append(tuple(row[c] for c in SAMPLES_COLUMNS))
    return spark.createDataFrame(rows, SAMPLES_DDL)


def _read_image_files(spark: SparkSession, spec: ImageFilesSource, root: Path, files: list[Path], run_id: str) -> DataFrame:
    """One row per file; oversize files keep their row (with an error) but not their payload."""
    df = spark.read.format("binaryFile").load([f.as_uri() for f in files])
    root_prefix = root.as_posix().rstrip("/") + "/"
    local_path = F.regexp_replace(F.col("path"), r"^file:/+", "/")
    key = F.substring(local_path, len(root_prefix) + 1, 1 << 20)
    too_big = F.col("length") > F.lit(spec.max_file_bytes)
    return df.select(
        sample_id_col(key, F.lit("0")).alias("sample_id"),
        F.col("path").alias("source_uri"),
        F.lit(0).cast("long").alias("source_offset"),
        key.alias("source_record_id"),
        F.lit(run_id).alias("ingest_run_id"),
        F.lit(None).cast("string").alias("url"),
        F.lit(None).cast("string").alias("caption"),
        F.lit(None).cast("string").alias("text"),
        F.when(too_big, F.lit(None).cast("binary")).otherwise(F.col("content")).alias("image"),
        F.lit(None).cast("binary").alias("payload"),
        F.lit(None).cast("string").alias("mime_type"),
        F.create_map(F.lit("length"), F.col("length").cast("string"), F.lit("modified"), F.col("modificationTime").cast("string")).alias("record_meta"),
        F.when(too_big, F.concat(F.lit("file of "), F.col("length").cast("string"), F.lit(f" bytes exceeds max_file_bytes {spec.max_file_bytes}"))).alias("ingest_error"),
    )
