"""Curation as SQL: a query over the signal tables → a tagged curated Iceberg table → training shards.

    spark-mm curate conf/z_image_curate.sql --recipe conf/z_image.yaml --export --run-id r1

A curation query is plain Spark SQL over ``<ns>.samples`` and ``<ns>.signals_<stage>``;
``${namespace}`` and ``${catalog}`` are substituted. Every table of the namespace the query names
is pinned to its current snapshot (``VERSION AS OF``), so the commit's lineage records exactly what
was read. The result replaces the content of ``<ns>.curated_<name>`` in one commit (history stays:
every curation is a snapshot), tagged ``curated-<run_id>``. Re-running a run id finds its commit
and writes nothing new; the export is rebuilt from the tagged snapshot.

Export (``spark_mm.lake.curate.export``): one Spark task writes one shard, reading Arrow batches
(``mapInArrow``); the driver only sees one small manifest row per shard. Shards are key ranges of
``sample_id`` (``repartitionByRange``), so their sizes are close to, not exactly, ``shard_size``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.errors import ConfigError
from spark_mm.lake.export_images import ImageFormat, ImagePolicy, hf_image_batch, majority_target, reencode
from spark_mm.lake.identifiers import check_run_id, quote_identifier
from spark_mm.lake.lineage import PREFIX, Lineage, code_version
from spark_mm.lake.settings import LakeSettings
from spark_mm.lake.tables import Lake

STAGE = "curate"
KEY_COLUMN = "sample_id"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Image file extension in a WebDataset sample, from the img_format signal (Pillow-style names).
_EXTENSIONS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "bmp": "bmp", "tiff": "tiff"}
# Text that becomes ``{key}.txt``: the first of these columns the curated table has.
TEXT_COLUMNS = ("caption", "text", "txt_content")
MANIFEST = "manifest.json"
# 64-bit hash columns (bigint, or array<bigint> of band hashes): hex strings in ``{key}.json``, since
# JSON readers (jq, JavaScript) hold numbers as doubles and round integers past 2^53.
HASH64_SUFFIXES = ("_phash", "_dhash", "_ahash", "_whash", "_minhash_bands")
_U64 = (1 << 64) - 1


class ExportFormat(str, Enum):
    PARQUET = "parquet"
    WEBDATASET = "webdataset"


@dataclass(frozen=True)
class Shard:
    """One written shard: its file name relative to the export directory, rows and bytes."""

    path: str
    format: ExportFormat
    rows: int
    bytes: int
    first_key: str | None
    last_key: str | None


@dataclass(frozen=True)
class CurateResult:
    """What a curation produced: the table, its snapshot and tag, the inputs read, the export."""

    table: str
    snapshot_id: int
    tag: str
    rows: int
    query_sha256: str
    inputs: dict[str, int | None]
    reused: bool  # True when this run id had already committed (nothing new was written)
    manifest: Path | None = None
    shards: tuple[Shard, ...] = field(default_factory=tuple)


def substitute(query: str, variables: dict[str, str]) -> str:
    """Replace ``${name}`` variables; an unknown variable is an error (never left in the SQL).

    >>> substitute("SELECT * FROM ${namespace}.samples", {"namespace": "z_image"})
    'SELECT * FROM z_image.samples'
    """

    def repl(m: re.Match[str]) -> str:
        if m.group(1) not in variables:
            raise ConfigError(f"curation query uses ${{{m.group(1)}}}; known variables: {sorted(variables)}")
        return variables[m.group(1)]

    return _VARIABLE.sub(repl, query)


def _table_reference(catalog: str, namespace: str, table: str) -> re.Pattern[str]:
    # `ns.t` or `catalog.ns.t`, not part of a longer name, and not a metadata table (`ns.t.snapshots`).
    return re.compile(rf"(?<![\w.`])(?:{re.escape(catalog)}\.)?{re.escape(namespace)}\.{re.escape(table)}(?![\w.`])", re.IGNORECASE)


def pin_inputs(query: str, catalog: str, namespace: str, snapshots: dict[str, int | None]) -> tuple[str, dict[str, int | None]]:
    """Pin every table of ``namespace`` the query names to a snapshot; return the query and the tables used.

    >>> pin_inputs("SELECT * FROM z.samples s JOIN z.signals_x USING (sample_id)", "lake", "z", {"samples": 7, "signals_x": None, "other": 9})
    ('SELECT * FROM lake.z.samples VERSION AS OF 7 s JOIN lake.z.signals_x USING (sample_id)', {'samples': 7, 'signals_x': None})
    """
    used: dict[str, int | None] = {}
    for table in sorted(snapshots, key=len, reverse=True):
        pattern = _table_reference(catalog, namespace, table)
        if not pattern.search(query):
            continue
        used[table] = snapshots[table]
        pinned = f"{catalog}.{namespace}.{table}" + (f" VERSION AS OF {snapshots[table]}" if snapshots[table] is not None else "")
        query = pattern.sub(pinned, query)
    return query, dict(sorted(used.items()))


def default_name(query_path: str | Path) -> str:
    """Curated table suffix from the query file name.

    >>> default_name("conf/z_image_curate.sql")
    'z_image'
    """
    stem = Path(query_path).stem.lower()
    return stem.removesuffix("_curate") or stem


class Curation:
    """Runs one curation query into ``<ns>.curated_<name>`` with lineage, a tag, and an optional export."""

    def __init__(self, spark: SparkSession, settings: LakeSettings, namespace: str, name: str, job: str = STAGE) -> None:
        if not NAME_PATTERN.match(name):
            raise ConfigError(f"curated table name {name!r} must match {NAME_PATTERN.pattern}")
        self.spark = spark
        self.settings = settings
        self.lake = Lake(spark, settings, namespace)
        self.namespace = namespace
        self.name = f"curated_{name}"
        self.job = job

    @property
    def table(self) -> str:
        return self.lake.table(self.name)

    def _snapshots(self) -> dict[str, int | None]:
        rows = self.spark.sql(f"SHOW TABLES IN {self.settings.catalog}.{self.namespace}").collect()
        return {r["tableName"]: self.lake.current_snapshot_id(r["tableName"]) for r in rows if not r["isTemporary"]}

    def run(self, query_text: str, run_id: str) -> CurateResult:
        """Commit the query's rows (once per run id) and tag the snapshot ``curated-<run_id>``."""
        check_run_id(run_id)  # it names the tag and the lineage
        query = substitute(query_text, {"namespace": self.namespace, "catalog": self.settings.catalog})
        digest = hashlib.sha256(query_text.encode()).hexdigest()
        tag = f"curated-{run_id}"
        earlier = self.lake.find_commit(self.name, run_id, STAGE)
        if earlier is not None:
            if earlier.summary.get(f"{PREFIX}query-sha256") != digest:
                raise ConfigError(
                    f"run {run_id} already curated {self.table} from a different query "
                    f"(sha256 {earlier.summary.get(f'{PREFIX}query-sha256')}); use a new --run-id"
                )
            self._tag(tag, earlier.snapshot_id)
            inputs = _parse_inputs(earlier.summary.get(f"{PREFIX}input", ""))
            total = int(earlier.summary.get("total-records", earlier.added_records))
            return CurateResult(self.table, earlier.snapshot_id, tag, total, digest, inputs, reused=True)

        pinned, used = pin_inputs(query, self.settings.catalog, self.namespace, self._snapshots())
        if not used:
            raise ConfigError(f"the curation query names no table of namespace {self.namespace!r} (write {self.namespace}.<table> or ${{namespace}}.<table>)")
        frame = self.spark.sql(pinned)
        if KEY_COLUMN not in frame.columns:
            raise ConfigError(f"a curation query must select {KEY_COLUMN} (the key of every exported sample); got {frame.columns}")
        if len(set(frame.columns)) != len(frame.columns):
            raise ConfigError(f"the curation query selects duplicate column names: {frame.columns}")
        self.lake.ensure_namespace()
        self.lake.ensure_table(self.name, frame.schema)
        lineage = Lineage(
            run_id=run_id,
            job=self.job,
            recipe_sha256=digest,
            code_version=code_version(),
            stage=STAGE,
            ops=(f"curate:{self.name}",),
            input=",".join(f"{self.settings.catalog}.{self.namespace}.{t}@{s if s is not None else 'none'}" for t, s in used.items()),
        )
        writer = frame.writeTo(self.table).option("mergeSchema", "true")
        for key, value in {**lineage.properties(), f"{PREFIX}query-sha256": digest}.items():
            writer = writer.option(f"snapshot-property.{key}", value)
        writer.overwrite(F.lit(True))
        commit = self.lake.find_commit(self.name, run_id, STAGE)
        if commit is None:
            raise ConfigError(f"curation of {self.table} committed no snapshot (did the query return rows?)")
        self._tag(tag, commit.snapshot_id)
        total = int(commit.summary.get("total-records", commit.added_records))
        return CurateResult(self.table, commit.snapshot_id, tag, total, digest, used, reused=False)

    def _tag(self, tag: str, snapshot_id: int) -> None:
        self.spark.sql(f"ALTER TABLE {self.table} CREATE TAG IF NOT EXISTS {quote_identifier(tag)} AS OF VERSION {snapshot_id}")

    def read(self, snapshot_id: int) -> DataFrame:
        return self.spark.read.option("versionAsOf", snapshot_id).table(self.table)


def _parse_inputs(text: str) -> dict[str, int | None]:
    """``lake.ns.t@123,...`` → ``{"t": 123}``.

    >>> _parse_inputs("lake.z.samples@12,lake.z.signals_a@none")
    {'samples': 12, 'signals_a': None}
    """
    out: dict[str, int | None] = {}
    for item in filter(None, text.split(",")):
        name, _, snap = item.rpartition("@")
        out[name.rsplit(".", 1)[-1]] = None if snap == "none" else int(snap)
    return out


# ---------------------------------------------------------------- export


def _json_value(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return None
    if isinstance(value, list) and value and isinstance(value[0], tuple):  # Arrow map → list of pairs
        return {str(k): _json_value(v) for k, v in value}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def hash64_columns(schema: T.StructType) -> frozenset[str]:
    """Columns holding 64-bit hashes: a name ending in one of ``HASH64_SUFFIXES`` and type bigint or array<bigint>."""
    out = set()
    for f in schema.fields:
        t = f.dataType.elementType if isinstance(f.dataType, T.ArrayType) else f.dataType
        if isinstance(t, T.LongType) and f.name.endswith(HASH64_SUFFIXES):
            out.add(f.name)
    return frozenset(out)


def hash_hex(value: int | None) -> str | None:
    """A signed 64-bit hash as imagehash prints it: 16 lower-case hex digits of the unsigned value.

    >>> hash_hex(-1), hash_hex(0x3C3C), hash_hex(None)
    ('ffffffffffffffff', '0000000000003c3c', None)
    """
    return None if value is None else format(value & _U64, "016x")


def json_document(row: dict[str, object], hash_cols: frozenset[str]) -> dict[str, object]:
    """The ``{key}.json`` object of one row: JSON-safe values, 64-bit hashes as hex strings.

    >>> json_document({"img_phash": -2, "img_bytes": 9, "b": [5]}, frozenset({"img_phash", "b"}))
    {'img_phash': 'fffffffffffffffe', 'img_bytes': 9, 'b': ['0000000000000005']}
    """
    doc = {}
    for k, v in row.items():
        if k in hash_cols:
            doc[k] = [hash_hex(x) for x in v] if isinstance(v, list) else hash_hex(v)  # type: ignore[arg-type]
        else:
            doc[k] = _json_value(v)
    return doc


def json_columns(schema: T.StructType) -> list[str]:
    """Columns that go into ``{key}.json``: every column but binary payloads and numeric vectors (embeddings)."""
    out = []
    for f in schema.fields:
        if isinstance(f.dataType, T.BinaryType):
            continue
        if isinstance(f.dataType, T.ArrayType) and isinstance(f.dataType.elementType, (T.FloatType, T.DoubleType)):
            continue
        out.append(f.name)
    return out


def image_extension(fmt: str | None, payload: bytes) -> str:
    """File extension of an image payload: from ``img_format`` when known, else the magic bytes.

    >>> image_extension("jpeg", b""), image_extension(None, b"\\x89PNG\\r\\n\\x1a\\n..."), image_extension(None, b"??")
    ('jpg', 'png', 'bin')
    """
    if fmt and fmt.lower() in _EXTENSIONS:
        return _EXTENSIONS[fmt.lower()]
    if payload.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if payload.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if payload[:4] == b"RIFF" and payload[8:12] == b"WEBP":
        return "webp"
    if payload[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return "bin"


def _add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # byte-identical shards for identical rows
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


_MANIFEST_SCHEMA = T.StructType(
    [
        T.StructField("path", T.StringType()),
        T.StructField("format", T.StringType()),
        T.StructField("rows", T.LongType()),
        T.StructField("bytes", T.LongType()),
        T.StructField("first_key", T.StringType()),
        T.StructField("last_key", T.StringType()),
        T.StructField("image_extensions", T.StringType()),  # webdataset: comma-separated, sorted
        T.StructField("reencoded", T.LongType()),
        T.StructField("reencode_failures", T.LongType()),
    ]
)


def _shard_writer(  # type: ignore[no-untyped-def]
    staging: str,
    formats: tuple[ExportFormat, ...],
    json_cols: list[str],
    hash_cols: frozenset[str],
    text_col: str | None,
    has_image: bool,
    target: ImageFormat | None,
):
    """The per-task function of ``mapInArrow``: write this partition as one shard per format.

    ``target``: the one WebDataset image extension (images of another are re-encoded); None keeps all.
    """

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        base = os.path.join(staging, f"part-{part:06d}")
        rows, first, last = 0, None, None
        extensions: set[str] = set()
        reencoded = failures = 0
        pq_writer = None
        tar = tarfile.open(base + ".tar", "w") if ExportFormat.WEBDATASET in formats else None
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                if ExportFormat.PARQUET in formats:
                    hf = hf_image_batch(batch) if has_image else batch
                    if pq_writer is None:
                        pq_writer = pq.ParquetWriter(base + ".parquet", hf.schema, compression="zstd")
                    pq_writer.write_batch(hf)
                keys = batch.column(KEY_COLUMN).to_pylist()
                first = first if first is not None else keys[0]
                last = keys[-1]
                rows += batch.num_rows
                if tar is None:
                    continue
                meta = batch.select(json_cols).to_pylist()
                texts = batch.column(text_col).to_pylist() if text_col else [None] * batch.num_rows
                images = batch.column("image").to_pylist() if has_image else [None] * batch.num_rows
                fmts = batch.column("img_format").to_pylist() if "img_format" in batch.schema.names else [None] * batch.num_rows
                for key, m, text, image, fmt in zip(keys, meta, texts, images, fmts):
                    ext = image_extension(fmt, image) if image is not None else None
                    if image is not None and target is not None and ext != target.value:
                        image, ext = reencode(image, target), target.value
                        reencoded += image is not None
                        failures += image is None
                    if image is not None:
                        extensions.add(ext)  # type: ignore[arg-type]
                        _add_file(tar, f"{key}.{ext}", image)
                    if text is not None:
                        _add_file(tar, f"{key}.txt", text.encode("utf-8"))
                    doc = json_document(m, hash_cols)
                    _add_file(tar, f"{key}.json", json.dumps(doc, sort_keys=True, ensure_ascii=False, allow_nan=False).encode("utf-8"))
        finally:
            if tar is not None:
                tar.close()
            if pq_writer is not None:
                pq_writer.close()
        out = []
        for fmt in formats:
            path = base + (".parquet" if fmt is ExportFormat.PARQUET else ".tar")
            if rows == 0:
                if os.path.exists(path):
                    os.remove(path)
                continue
            wds = fmt is ExportFormat.WEBDATASET
            exts, done, failed = (",".join(sorted(extensions)), reencoded, failures) if wds else ("", 0, 0)
            out.append((os.path.basename(path), fmt.value, rows, os.path.getsize(path), first, last, exts, done, failed))
        cols = list(zip(*out)) if out else [[] for _ in _MANIFEST_SCHEMA.fields]
        types = (pa.string(), pa.string(), pa.int64(), pa.int64(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64())
        yield pa.RecordBatch.from_arrays(
            [pa.array(list(c), type=t) for c, t in zip(cols, types)],
            names=[f.name for f in _MANIFEST_SCHEMA.fields],
        )

    return write


def image_extension_counts(frame: DataFrame) -> dict[str, int]:
    """Images per file extension in ``frame`` (the rule of :func:`image_extension`), for ``--image-format auto``.

    One extra pass that ships only ``img_format`` and the first 12 bytes of each image to Python
    (enough for the magic bytes), and one small row per partition and extension back to the driver.
    """
    fmt_col = F.col("img_format") if "img_format" in frame.columns else F.lit(None).cast("string")
    heads = frame.select(F.substring("image", 1, 12).alias("head"), fmt_col.alias("img_format"))

    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        seen: dict[str, int] = {}
        for batch in batches:
            for head, fmt in zip(batch.column("head").to_pylist(), batch.column("img_format").to_pylist()):
                if head is not None:
                    ext = image_extension(fmt, head)
                    seen[ext] = seen.get(ext, 0) + 1
        yield pa.RecordBatch.from_arrays([pa.array(list(seen), pa.string()), pa.array(list(seen.values()), pa.int64())], names=["ext", "n"])

    totals: dict[str, int] = {}
    for row in heads.mapInArrow(count, "ext string, n long").collect():
        totals[row["ext"]] = totals.get(row["ext"], 0) + row["n"]
    return totals


def export(
    frame: DataFrame,
    out_dir: str | Path,
    formats: tuple[ExportFormat, ...],
    shard_size: int,
    meta: dict[str, object],
    image_format: ImagePolicy | ImageFormat | str = ImagePolicy.AUTO,
) -> tuple[Path, tuple[Shard, ...]]:
    """Write ``frame`` as Parquet and/or WebDataset shards of about ``shard_size`` rows, and a manifest.

    Shards are staged in ``<out_dir>/_staging-<n>`` by the tasks, then renamed to
    ``shard-000000.{parquet,tar}`` in key order; a previous export's shards (listed in its manifest)
    are replaced, and the manifest is written last, so a reader never sees a half-written export.
    The directory must be visible to executors and driver alike (local disk in local mode, or a
    shared mount). ``image_format`` picks the WebDataset image extension (``auto``: the majority's;
    ``jpg|png|webp``; ``keep``: every payload as it is) and images of another extension are
    re-encoded (``spark_mm/lake/export_images.py``). Parquet shards always keep the bytes as they are
    (HF's Image feature decodes any format).

    Returns:
        The manifest path and the shards.
    """
    if shard_size < 1:
        raise ConfigError(f"--shard-size must be >= 1, got {shard_size}")
    if not formats:
        raise ConfigError("no export format given (parquet, webdataset)")
    try:
        policy = ImagePolicy(getattr(image_format, "value", image_format))
    except ValueError:
        raise ConfigError(f"--image-format must be one of {', '.join(p.value for p in ImagePolicy)}, got {image_format!r}") from None
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f"_staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    rows = frame.count()
    n_shards = max(1, math.ceil(rows / shard_size))
    text_col = next((c for c in TEXT_COLUMNS if c in frame.columns), None)
    has_image = "image" in frame.columns and isinstance(frame.schema["image"].dataType, T.BinaryType)
    target: ImageFormat | None = None
    if has_image and ExportFormat.WEBDATASET in formats and policy is not ImagePolicy.KEEP:
        if policy is ImagePolicy.AUTO:
            counts = image_extension_counts(frame)
            target = majority_target(counts) if counts else None
        else:
            target = ImageFormat(policy.value)
    write = _shard_writer(str(staging), formats, json_columns(frame.schema), hash64_columns(frame.schema), text_col, has_image, target)
    parts = frame.repartitionByRange(n_shards, KEY_COLUMN).sortWithinPartitions(KEY_COLUMN)
    written = parts.mapInArrow(write, _MANIFEST_SCHEMA).collect()  # one small row per shard and format

    previous = out / MANIFEST
    if previous.exists():
        for shard in json.loads(previous.read_text()).get("shards", []):
            (out / shard["path"]).unlink(missing_ok=True)
        previous.unlink()
    shards: list[Shard] = []
    for fmt in formats:
        ours = sorted((r for r in written if r["format"] == fmt.value), key=lambda r: r["first_key"])
        for i, r in enumerate(ours):
            name = f"shard-{i:06d}" + (".parquet" if fmt is ExportFormat.PARQUET else ".tar")
            os.replace(staging / r["path"], out / name)
            shards.append(Shard(name, fmt, r["rows"], r["bytes"], r["first_key"], r["last_key"]))
    shutil.rmtree(staging, ignore_errors=True)
    manifest = {
        **meta,
        "rows": rows,
        "shard_size": shard_size,
        "formats": [f.value for f in formats],
        "counts": {f.value: sum(s.rows for s in shards if s.format is f) for f in formats},
        "shards": [{**s.__dict__, "format": s.format.value} for s in shards],
    }
    if ExportFormat.WEBDATASET in formats:
        wds = [r for r in written if r["format"] == ExportFormat.WEBDATASET.value]
        manifest["image_format"] = policy.value
        manifest["image_target"] = target.value if target else None
        manifest["image_extensions"] = sorted({e for r in wds for e in (r["image_extensions"] or "").split(",") if e})
        manifest["reencoded"] = sum(r["reencoded"] or 0 for r in wds)
        manifest["reencode_failures"] = sum(r["reencode_failures"] or 0 for r in wds)
    for fmt in formats:
        if manifest["counts"][fmt.value] != rows:  # type: ignore[index]
            raise ConfigError(f"export wrote {manifest['counts'][fmt.value]} {fmt.value} rows, expected {rows}")  # type: ignore[index]
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, out / MANIFEST)
    return out / MANIFEST, tuple(shards)


def curate(
    spark: SparkSession,
    settings: LakeSettings,
    namespace: str,
    query_path: str | Path,
    run_id: str,
    name: str | None = None,
    job: str = STAGE,
    export_dir: str | Path | None = None,
    formats: tuple[ExportFormat, ...] = (ExportFormat.PARQUET, ExportFormat.WEBDATASET),
    shard_size: int = 10_000,
    image_format: ImagePolicy | ImageFormat | str = ImagePolicy.AUTO,
) -> CurateResult:
    """Run the query file into the curated table and export the tagged snapshot when asked.

    Raises:
        ConfigError: missing query file, unknown ``${variable}``, no ``sample_id`` column, a run id
            reused with a different query, a bad shard size.
    """
    path = Path(query_path)
    if not path.is_file():
        raise ConfigError(f"curation query file not found: {path}")
    curation = Curation(spark, settings, namespace, name or default_name(path), job=job)
    result = curation.run(path.read_text(), run_id)
    if export_dir is None:
        return result
    meta = {
        "table": result.table,
        "snapshot_id": result.snapshot_id,
        "tag": result.tag,
        "run_id": run_id,
        "query_file": str(path),
        "query_sha256": result.query_sha256,
        "inputs": {f"{settings.catalog}.{namespace}.{t}": s for t, s in result.inputs.items()},
    }
    manifest, shards = export(curation.read(result.snapshot_id), export_dir, formats, shard_size, meta, image_format)
    return dataclasses.replace(result, manifest=manifest, shards=shards)
