"""A Spark Python Data Source over record files (WARC/WET, JSON Lines): one partition per file.

Each file is parsed on an executor by a pure Python iterator (``iter_warc_records`` /
``iter_jsonl_records``) that yields bronze rows; a record that cannot be parsed is an error row,
so the data source never fails a task for bad input. The reader gives every row its sample id
(``sources.ids``) from the file's content digest, which the driver computed beforehand on the
executors (``sources.digests``), and two internal columns the ingest consumes: ``_pos_id`` (the
positional id, used when a native id turns out to be a duplicate) and ``_skipped`` (the WARC type
of a record that ``record_types`` does not select; such rows carry nothing else).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

from spark_mm.lake.schema import SAMPLES_COLUMNS, SAMPLES_SCHEMA
from spark_mm.sources.filesystem import STORAGE_OPTION, Storage
from spark_mm.sources.ids import error_id, position_id, record_id
from spark_mm.sources.warc_records import FILE_ERROR

SAMPLES_DDL = (
    "sample_id string, source_uri string, source_offset bigint, source_record_id string, ingest_run_id string, "
    "url string, caption string, text string, image binary, payload binary, mime_type string, "
    "record_meta map<string,string>, ingest_error string, is_revisit boolean, refers_to_record_id string"
)
# what a source read yields: the bronze columns plus the internal ones the ingest consumes
INTERNAL_COLUMNS = ("_pos_id", "_skipped")
READ_DDL = SAMPLES_DDL + ", _pos_id string, _skipped string"
_READ_COLUMNS = SAMPLES_COLUMNS + INTERNAL_COLUMNS
_READ_SCHEMA = pa.schema([f.with_nullable(True) for f in SAMPLES_SCHEMA] + [pa.field(c, pa.string()) for c in INTERNAL_COLUMNS])
# Formats whose rows carry whole media: yielded as Arrow batches cut by bytes, since Spark's
# Python data source would otherwise gather up to 10,000 rows (of possibly 64 MiB each) per batch.
_MEDIA_FORMATS = frozenset({"video", "webdataset"})
BATCH_BYTES = 64 << 20
BATCH_ROWS = 256

# the scope of WARC-Record-IDs: globally unique URNs (WARC 1.1 §5.2), so one scope for all crawls
WARC_SCOPE = "warc"


class FilePartition(InputPartition):
    def __init__(self, path: str, digest: str) -> None:
        super().__init__(path)
        self.path = path
        self.digest = digest


class RecordFilesDataSource(DataSource):
    """Options: ``format`` (warc|jsonl|video|webdataset), ``files`` (JSON list of [path, sha256]),
    ``run_id``, ``storage_secret`` (a ``filesystem.Storage`` as JSON, for ``s3://`` files), and
    per-format options (``max_record_bytes``, ``record_types``; ``text_column``,
    ``id_column``, ``id_scope``, ``url_column``; ``root``, ``inline_max_bytes``,
    ``max_image_bytes``)."""

    @classmethod
    def name(cls) -> str:
        return "spark_mm_records"

    def schema(self) -> str:
        return READ_DDL

    def reader(self, schema: Any) -> DataSourceReader:
        return RecordFilesReader(dict(self.options))


class RecordFilesReader(DataSourceReader):
    def __init__(self, options: dict[str, str]) -> None:
        self.format = options["format"]
        self.files = json.loads(options["files"])
        self.run_id = options["run_id"]
        self.options = options
        self.storage = Storage.from_json(options[STORAGE_OPTION]) if options.get(STORAGE_OPTION) else None

    def partitions(self) -> list[InputPartition]:
        return [FilePartition(path, digest) for path, digest in self.files]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        assert isinstance(partition, FilePartition)
        rows = identify(self._records(partition.path), partition.digest, self._scope(), self._record_types())
        if self.format in _MEDIA_FORMATS:
            yield from arrow_batches(rows, partition.path, self.run_id)
            return
        for row in rows:
            row["source_uri"] = partition.path
            row["ingest_run_id"] = self.run_id
            yield tuple(row.get(c) for c in _READ_COLUMNS)

    def _scope(self) -> str | None:
        if self.format == "warc":
            return WARC_SCOPE
        return self.options.get("id_scope") if self.options.get("id_column") else None

    def _record_types(self) -> frozenset[str] | None:
        types = self.options.get("record_types")
        return frozenset(json.loads(types)) if types else None

    def _records(self, path: str) -> Iterator[dict[str, Any]]:
        opt = self.options
        if self.format == "jsonl":
            from spark_mm.sources.jsonl_records import iter_jsonl_records

            return iter_jsonl_records(
                path,
                text_column=opt["text_column"],
                id_column=opt.get("id_column") or None,
                url_column=opt.get("url_column") or None,
                storage=self.storage,
            )
        if self.format == "warc":
            from spark_mm.sources.warc_records import iter_warc_records

            return iter_warc_records(path, max_record_bytes=int(opt["max_record_bytes"]), storage=self.storage)
        if self.format == "video":
            from spark_mm.sources.files import source_key
            from spark_mm.sources.video_records import iter_video_file

            key = source_key(opt["root"], path)
            return iter_video_file(path, key=key, inline_max_bytes=int(opt["inline_max_bytes"]), storage=self.storage)
        if self.format == "webdataset":
            from spark_mm.sources.webdataset_records import iter_webdataset_records

            return iter_webdataset_records(
                path, inline_max_bytes=int(opt["inline_max_bytes"]), max_image_bytes=int(opt["max_image_bytes"]),
                id_field=opt.get("id_column") or None, storage=self.storage,
            )
        raise ValueError(f"unknown record format {self.format!r}")


def identify(
    records: Iterator[dict[str, Any]], digest: str, scope: str | None, record_types: frozenset[str] | None
) -> Iterator[dict[str, Any]]:
    """Give each record of one file its ``sample_id`` and ``_pos_id``; mark unselected WARC types.

    A record with a native id (``source_record_id``) and a ``scope`` gets ``("rec", scope, id)``;
    others get ``("pos", digest, offset)``, or ``("pos", digest, _position)`` when the record names
    its position itself (a WebDataset key); a file-level error row gets ``("err", digest, offset,
    ordinal)``. A record whose ``WARC-Type`` is not in ``record_types`` becomes a row holding only
    ``_skipped`` (its type), for the ingest to count and drop.

    >>> rows = list(identify(iter([{"source_offset": 0}, {"source_offset": 0, "_file_error": True},
    ...                             {"source_offset": 0, "_file_error": True}]), "d", None, None))
    >>> len({r["sample_id"] for r in rows})
    3
    """
    faults = 0
    for record in records:
        if record_types is not None:
            rec_type = (record.get("record_meta") or {}).get("WARC-Type")
            if rec_type is not None and rec_type not in record_types:
                yield {"_skipped": rec_type}
                continue
        offset = record.get("source_offset")
        offset = -1 if offset is None else offset
        row = {k: v for k, v in record.items() if k != FILE_ERROR}
        if record.get(FILE_ERROR):
            row["sample_id"] = row["_pos_id"] = error_id(digest, offset, faults)
            faults += 1
            yield row
            continue
        row["_pos_id"] = position_id(digest, record.get("_position", offset))
        native = record.get("source_record_id")
        row["sample_id"] = record_id(scope, native) if scope is not None and native is not None else row["_pos_id"]
        yield row


def _row_bytes(row: dict[str, Any]) -> int:
    return sum(len(row.get(c) or b"") for c in ("image", "payload"))


def arrow_batches(rows: Iterator[dict[str, Any]], source_uri: str, run_id: str) -> Iterator[pa.RecordBatch]:
    """Rows of one file as Arrow batches of at most ``BATCH_ROWS`` rows or about ``BATCH_BYTES`` of media.

    Building them here (Spark accepts ``RecordBatch`` from ``read``) bounds the memory a shard of
    large videos takes; a file without rows yields no batch.
    """
    pending: list[dict[str, Any]] = []
    size = 0

    def flush() -> pa.RecordBatch:
        return pa.RecordBatch.from_pylist([{c: r.get(c) for c in _READ_COLUMNS} for r in pending], schema=_READ_SCHEMA)

    for row in rows:
        row["source_uri"] = source_uri
        row["ingest_run_id"] = run_id
        pending.append(row)
        size += _row_bytes(row)
        if len(pending) >= BATCH_ROWS or size >= BATCH_BYTES:
            yield flush()
            pending, size = [], 0
    if pending:
        yield flush()
