"""Parquet objects on S3 read by pyarrow on the executors, in the columns Spark's Parquet reader gives.

Spark's own reader needs Hadoop's S3A jars and their settings; this Python data source needs
neither: one partition per file, each read row group by row group through ``sources.filesystem``,
with the two columns ``sources.parquet`` takes from Spark's ``_metadata`` (``_file_uri``: the
object's URI; ``_row``: the 0-based row index in the file), so the rows, ids and errors match a
local read of the same files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

from spark_mm.sources import filesystem
from spark_mm.sources.filesystem import STORAGE_OPTION, Storage

FILE_URI, ROW = "_file_uri", "_row"


class _File(InputPartition):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class ParquetObjectsDataSource(DataSource):
    """Options: ``files`` (JSON list of URIs), ``schema`` (the Spark DDL of their columns), ``storage_secret``."""

    @classmethod
    def name(cls) -> str:
        return "spark_mm_parquet_objects"

    def schema(self) -> str:
        return self.options["schema"]

    def reader(self, schema: Any) -> DataSourceReader:
        return _Reader(dict(self.options), schema)


class _Reader(DataSourceReader):
    def __init__(self, options: dict[str, str], schema: Any) -> None:
        self.files = json.loads(options["files"])
        self.storage = Storage.from_json(options.get(STORAGE_OPTION))
        self.columns = [f.name for f in schema.fields if f.name not in (FILE_URI, ROW)]

    def partitions(self) -> list[InputPartition]:
        return [_File(p) for p in self.files]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        import pyarrow.parquet as pq

        assert isinstance(partition, _File)
        row = 0
        with filesystem.open_input(partition.path, self.storage) as fh:
            pf = pq.ParquetFile(fh)
            for batch in pf.iter_batches(batch_size=1024, columns=self.columns):
                n = batch.num_rows
                cols = batch.columns + [pa.array([partition.path] * n, pa.string()), pa.array(range(row, row + n), pa.int64())]
                row += n
                yield pa.RecordBatch.from_arrays(cols, names=self.columns + [FILE_URI, ROW])


def read_parquet_objects(spark: SparkSession, paths: list[str], storage: Storage) -> DataFrame:
    """The rows of ``paths`` (S3 Parquet objects of one schema, that of the first) plus ``_file_uri`` and ``_row``."""
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_schema

    with filesystem.open_input(paths[0], storage) as fh:
        arrow = pq.read_schema(fh)
    schema = from_arrow_schema(arrow)
    ddl = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields) + f", {FILE_URI} string, {ROW} bigint"
    spark.dataSource.register(ParquetObjectsDataSource)
    reader = spark.read.format(ParquetObjectsDataSource.name()).option("files", json.dumps(paths)).option("schema", ddl)
    return reader.option(STORAGE_OPTION, storage.to_json()).load()
