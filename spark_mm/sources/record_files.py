"""A Spark Python Data Source over record files (WARC/WET, JSON Lines): one partition per file.

Each file is parsed on an executor by a pure Python iterator (``iter_warc_records`` /
``iter_jsonl_records``) that yields bronze rows; a record that cannot be parsed is an error row,
so the data source never fails a task for bad input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

from spark_mm.lake.schema import SAMPLES_COLUMNS
from spark_mm.sources.ids import sample_id

SAMPLES_DDL = (
    "sample_id string, source_uri string, source_offset bigint, source_record_id string, ingest_run_id string, "
    "url string, caption string, text string, image binary, payload binary, mime_type string, "
    "record_meta map<string,string>, ingest_error string"
)


class FilePartition(InputPartition):
    def __init__(self, path: str, key: str) -> None:
        super().__init__(path)
        self.path = path
        self.key = key


class RecordFilesDataSource(DataSource):
    """Options: ``format`` (warc|jsonl), ``files`` (JSON list of [path, source_key]), ``run_id``,
    and per-format options (``max_record_bytes``; ``text_column``, ``id_column``, ``url_column``)."""

    @classmethod
    def name(cls) -> str:
        return "spark_mm_records"

    def schema(self) -> str:
        return SAMPLES_DDL

    def reader(self, schema: Any) -> DataSourceReader:
        return RecordFilesReader(dict(self.options))


class RecordFilesReader(DataSourceReader):
    def __init__(self, options: dict[str, str]) -> None:
        self.format = options["format"]
        self.files = json.loads(options["files"])
        self.run_id = options["run_id"]
        self.options = options

    def partitions(self) -> list[InputPartition]:
        return [FilePartition(path, key) for path, key in self.files]

    def read(self, partition: InputPartition) -> Iterator[tuple[Any, ...]]:
        assert isinstance(partition, FilePartition)
        for record in self._records(partition.path):
            offset = record.get("source_offset")
            row = {c: None for c in SAMPLES_COLUMNS}
            row.update(record)
            row["sample_id"] = sample_id(partition.key, offset if offset is not None else -1)
            row["source_uri"] = partition.path
            row["ingest_run_id"] = self.run_id
            yield tuple(row[c] for c in SAMPLES_COLUMNS)

    def _records(self, path: str) -> Iterator[dict[str, Any]]:
        opt = self.options
        if self.format == "jsonl":
            from spark_mm.sources.jsonl_records import iter_jsonl_records

            return iter_jsonl_records(
                path,
                text_column=opt["text_column"],
                id_column=opt.get("id_column") or None,
                url_column=opt.get("url_column") or None,
            )
        if self.format == "warc":
            from spark_mm.sources.warc_records import iter_warc_records

            return iter_warc_records(path, max_record_bytes=int(opt["max_record_bytes"]))
        raise ValueError(f"unknown record format {self.format!r}")
