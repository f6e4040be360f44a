"""Parquet files, Hugging Face datasets and the embedded sample → bronze rows with content-based ids."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.errors import SourceError
from spark_mm.lake.schema import SAMPLES_COLUMNS
from spark_mm.sources.base import SourceRead, copies_note, default_scope, input_digest, join_errors, local_path
from spark_mm.sources.digests import FileDigest, digest_files, distinct_contents
from spark_mm.sources.files import list_files
from spark_mm.sources.filesystem import Storage, is_s3, storage_for
from spark_mm.sources.ids import error_id, position_id_col, record_id_col
from spark_mm.sources.specs import HuggingFaceSource, ParquetSource, SampleImagesSource


def read_parquet(spark: SparkSession, spec: ParquetSource, run_id: str) -> SourceRead:
    """Parquet files (file, directory or glob); ``id_column`` ids are scoped by ``id_scope`` or the root's name."""
    root, files = list_files(spec.path, (".parquet",), storage_for(spec.path))
    return _read(spark, spec, "parquet", root, files, run_id, spec.id_scope or default_scope(spec.path, root))


def read_hf(spark: SparkSession, spec: HuggingFaceSource, run_id: str) -> SourceRead:
    """A Hugging Face dataset's split; ``id_column`` ids are scoped by ``hf:<dataset>[/<config>]`` unless ``id_scope``."""
    from spark_mm.sources.hf import resolve_hf_files

    root, files = resolve_hf_files(spec)
    pspec = ParquetSource(
        type="parquet", path=str(root), image_column=spec.image_column, text_column=spec.text_column,
        url_column=spec.url_column, caption_column=spec.caption_column, id_column=spec.id_column,
    )
    return _read(spark, pspec, f"hf={spec.dataset}/{spec.split}", root, files, run_id, spec.id_scope or hf_scope(spec))


def read_sample_images(spark: SparkSession, spec: SampleImagesSource, run_id: str) -> SourceRead:
    """The embedded demo data, generated under ``<home>/sample/`` on first use, read as Parquet keyed by ``key``."""
    from spark_mm.sources.sample import ensure_sample

    path = ensure_sample(seed=spec.seed)
    pspec = ParquetSource(
        type="parquet", path=str(path), image_column="image", url_column="url", caption_column="caption",
        id_column="key", id_scope=f"sample_images/seed={spec.seed}",
    )
    return read_parquet(spark, pspec, run_id)


def hf_scope(spec: HuggingFaceSource) -> str:
    """``hf:<dataset>[/<config>]``; a local (or S3) dataset folder contributes its name, not its machine-specific path.

    >>> hf_scope(HuggingFaceSource(type="hf", dataset="org/name", config="en"))
    'hf:org/name/en'
    """
    local = Path(spec.dataset).expanduser()
    if is_s3(spec.dataset):
        name = spec.dataset.rstrip("/").rsplit("/", 1)[-1]
    else:
        name = local.resolve().name if local.is_dir() else spec.dataset
    return f"hf:{name}" + (f"/{spec.config}" if spec.config else "")


def _read(spark: SparkSession, spec: ParquetSource, kind: str, root: str | Path, files: list[str], run_id: str, scope: str) -> SourceRead:
    storage = storage_for(str(root), *files)
    digests = digest_files(spark, files, check_parquet=True, storage=storage)
    kept, copies = distinct_contents(digests)
    good = [d for d in kept if d.footer_error is None]
    bad = [d for d in kept if d.footer_error is not None]
    frames = []
    if good:
        frames.append(_parquet_rows(spark, spec, good, run_id, scope, storage))
    if bad:
        frames.append(_error_rows(spark, bad, run_id))
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return SourceRead(out, input_digest(kind, root, digests), spec.id_column, copies_note(copies))


def _parquet_rows(
    spark: SparkSession, spec: ParquetSource, files: list[FileDigest], run_id: str, scope: str, storage: Storage | None
) -> DataFrame:
    if storage is None:
        raw = spark.read.parquet(*[d.path for d in files])
        located = raw.select(
            "*",
            F.col("_metadata.file_path").alias("_file_uri"),
            F.col("_metadata.row_index").cast("long").alias("_row"),
            local_path(F.col("_metadata.file_path")).alias("_local"),
        )
    else:  # S3 objects: pyarrow on the executors (sources.parquet_objects), same two columns
        from spark_mm.sources.parquet_objects import FILE_URI, ROW, read_parquet_objects

        located = read_parquet_objects(spark, [d.path for d in files], storage).withColumn("_local", F.col(FILE_URI))
        raw = located.drop(FILE_URI, ROW, "_local")
    fields = {f.name: f.dataType for f in raw.schema.fields}
    for col in (spec.image_column, spec.text_column, spec.url_column, spec.caption_column, spec.video_column, spec.id_column):
        if col and col not in fields:
            raise SourceError(f"column {col!r} not found in {spec.path}; columns: {sorted(fields)}")
    digests = spark.createDataFrame([(d.path, d.sha256) for d in files], "_path string, _digest string")
    df = located.join(F.broadcast(digests), F.col("_local") == F.col("_path"), "left")  # unmatched → null id → audit fails loudly

    image, image_error = _bytes_column("image", spec.image_column, fields)
    video, video_error = _bytes_column("video", spec.video_column, fields)

    pos = position_id_col(F.col("_digest"), F.col("_row"))
    native = F.col(spec.id_column).cast("string") if spec.id_column else F.lit(None).cast("string")
    sample_id = F.coalesce(record_id_col(scope, native), pos) if spec.id_column else pos
    id_error = F.when(native.isNull(), F.lit(f"null id in column {spec.id_column!r}")) if spec.id_column else F.lit(None).cast("string")

    def text(col: str | None) -> Column:
        return F.col(col).cast("string") if col else F.lit(None).cast("string")

    mapped = {c for c in (spec.image_column, spec.text_column, spec.url_column, spec.caption_column, spec.video_column, spec.id_column) if c}
    extra = [n for n, t in fields.items() if n not in mapped and isinstance(t, (T.StringType, T.NumericType, T.BooleanType, T.DateType, T.TimestampType))]
    meta = F.create_map(*[x for n in extra for x in (F.lit(n), F.col(n).cast("string"))]) if extra else F.lit(None).cast("map<string,string>")
    return df.select(
        sample_id.alias("sample_id"),
        F.col("_file_uri").alias("source_uri"),
        F.col("_row").alias("source_offset"),
        native.alias("source_record_id"),
        F.lit(run_id).alias("ingest_run_id"),
        text(spec.url_column).alias("url"),
        text(spec.caption_column).alias("caption"),
        text(spec.text_column).alias("text"),
        image.alias("image"),
        video.alias("payload"),
        F.lit(None).cast("string").alias("mime_type"),
        meta.alias("record_meta"),
        join_errors(image_error, video_error, id_error).alias("ingest_error"),
        F.lit(None).cast("boolean").alias("is_revisit"),
        F.lit(None).cast("string").alias("refers_to_record_id"),
        pos.alias("_pos_id"),
        F.lit(None).cast("string").alias("_skipped"),
    )


def _bytes_column(kind: str, column: str | None, fields: dict[str, T.DataType]) -> tuple[Column, Column]:
    """(bytes, error) expressions for a binary column or a Hugging Face ``{bytes, path}`` struct; nulls when unset.

    Raises:
        SourceError: the column holds neither.
    """
    if not column:
        return F.lit(None).cast("binary"), F.lit(None).cast("string")
    dtype = fields[column]
    if isinstance(dtype, T.StructType) and "bytes" in dtype.fieldNames():
        # Hugging Face image/video feature: {bytes, path}; a path-only row has no payload to curate.
        data = F.col(f"`{column}`.bytes")
        path_col = F.col(f"`{column}`.path") if "path" in dtype.fieldNames() else F.lit(None)
        return data, F.when(data.isNull(), F.concat(F.lit(f"{kind} bytes missing (path only: "), F.coalesce(path_col, F.lit("none")), F.lit(")")))
    if isinstance(dtype, T.BinaryType):
        data = F.col(column)
        return data, F.when(data.isNull(), F.lit(f"null {kind} payload"))
    raise SourceError(f"{kind}_column {column!r} is {dtype.simpleString()}; expected binary or a struct with a 'bytes' field")


def _error_rows(spark: SparkSession, bad: list[FileDigest], run_id: str) -> DataFrame:
    """One row per file whose footer cannot be read, with an error id of its own."""
    from spark_mm.sources.record_files import INTERNAL_COLUMNS, READ_DDL

    rows = []
    for d in bad:
        row = dict.fromkeys(SAMPLES_COLUMNS + INTERNAL_COLUMNS)
        sid = error_id(d.sha256, -1, 0)
        row.update(sample_id=sid, _pos_id=sid, source_uri=d.path if is_s3(d.path) else Path(d.path).as_uri(), source_offset=-1, ingest_run_id=run_id, ingest_error=d.footer_error)
        rows.append(tuple(row[c] for c in SAMPLES_COLUMNS + INTERNAL_COLUMNS))
    return spark.createDataFrame(rows, READ_DDL)
