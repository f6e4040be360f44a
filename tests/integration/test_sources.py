"""Sources → bronze rows through real Spark: Parquet (HF image struct, plain binary), HF cache, JSONL."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from spark_mm.errors import SourceError
from spark_mm.sources.ids import sample_id
from spark_mm.sources.reader import read_source
from spark_mm.sources.specs import HuggingFaceSource, JsonlSource, ParquetSource


def jpeg(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 8), color).save(buf, "JPEG")
    return buf.getvalue()


def hf_image_table() -> pa.Table:
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    return pa.table(
        {
            "image": pa.array([{"bytes": jpeg((255, 0, 0)), "path": "a.jpg"}, {"bytes": None, "path": "only/path.jpg"}], image),
            "text": ["a red square", "missing bytes"],
            "label": [1, 2],
        }
    )


def test_parquet_with_hf_image_struct(spark: SparkSession, tmp_path: Path) -> None:
    pq.write_table(hf_image_table(), tmp_path / "part-0.parquet")
    spec = ParquetSource(type="parquet", path=str(tmp_path), image_column="image", caption_column="text")
    read = read_source(spark, spec, "r")
    rows = sorted(read.frame.collect(), key=lambda r: r.source_offset)
    assert [r.caption for r in rows] == ["a red square", "missing bytes"]
    assert rows[0].image[:2] == b"\xff\xd8" and rows[0].ingest_error is None
    assert rows[1].image is None and rows[1].ingest_error == "image bytes missing (path only: only/path.jpg)"
    assert rows[0].record_meta == {"label": "1"}
    assert rows[0].sample_id == sample_id("part-0.parquet", 0)
    assert read.input.startswith("parquet:") and "1 files" in read.input


def test_parquet_plain_binary_and_unreadable_file(spark: SparkSession, tmp_path: Path) -> None:
    pq.write_table(pa.table({"img": pa.array([jpeg((0, 0, 255))], pa.binary()), "u": ["http://x"]}), tmp_path / "good.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    spec = ParquetSource(type="parquet", path=str(tmp_path), image_column="img", url_column="u")
    rows = read_source(spark, spec, "r").frame.collect()
    assert len(rows) == 2
    bad = [r for r in rows if r.ingest_error]
    assert len(bad) == 1 and bad[0].ingest_error.startswith("unreadable Parquet file") and bad[0].source_uri.endswith("broken.parquet")
    good = [r for r in rows if not r.ingest_error][0]
    assert good.url == "http://x" and good.image[:2] == b"\xff\xd8"


def test_missing_column_is_a_clear_error(spark: SparkSession, tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1]}), tmp_path / "a.parquet")
    with pytest.raises(SourceError, match="column 'image' not found"):
        read_source(spark, ParquetSource(type="parquet", path=str(tmp_path), image_column="image"), "r")


def test_hf_dataset_from_local_hub_cache_offline(spark: SparkSession, tmp_path: Path) -> None:
    # The layout huggingface_hub writes: datasets--org--name/{refs/main, snapshots/<rev>/...}
    repo = tmp_path / "hub" / "datasets--acme--pics"
    snap = repo / "snapshots" / ("0" * 40)
    (snap / "data").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    pq.write_table(hf_image_table(), snap / "data" / "train-00000-of-00001.parquet")
    pq.write_table(hf_image_table().slice(0, 1), snap / "data" / "test-00000-of-00001.parquet")
    spec = HuggingFaceSource(type="hf", dataset="acme/pics", split="train", cache_dir=str(tmp_path / "hub"), caption_column="text")
    rows = read_source(spark, spec, "r").frame.collect()
    assert len(rows) == 2
    missing = HuggingFaceSource(type="hf", dataset="acme/absent", cache_dir=str(tmp_path / "hub"))
    with pytest.raises(SourceError, match="not in the local Hugging Face cache"):
        read_source(spark, missing, "r")


def test_jsonl_with_bad_lines_becomes_error_rows(spark: SparkSession, tmp_path: Path) -> None:
    lines = [json.dumps({"id": "d1", "text": "hello world", "url": "http://a", "lang": "en"}), "{not json", json.dumps({"id": "d3", "body": "no text"}), ""]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"id": "d4", "text": "zipped"}) + "\n")
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b'{"text": "cut"}\n')[:-12])  # truncated gzip
    spec = JsonlSource(type="jsonl", path=str(tmp_path))
    rows = read_source(spark, spec, "r").frame.collect()
    by_offset = {(Path(r.source_uri).name, r.source_offset): r for r in rows}
    assert by_offset[("a.jsonl", 0)].text == "hello world" and by_offset[("a.jsonl", 0)].record_meta == {"lang": "en"}
    assert "invalid JSON" in by_offset[("a.jsonl", 1)].ingest_error
    assert "'text' missing" in by_offset[("a.jsonl", 2)].ingest_error
    assert by_offset[("b.jsonl.gz", 0)].text == "zipped"
    assert any(r.ingest_error and "cannot read" in r.ingest_error for r in rows if r.source_uri.endswith("c.jsonl.gz"))
    assert by_offset[("a.jsonl", 0)].sample_id == sample_id("a.jsonl", 0)
    assert len({r.sample_id for r in rows}) == len(rows)
