"""Sources → bronze rows through real Spark (Parquet, HF cache, JSONL), and identity through real ingests."""

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
from pyspark.sql import functions as F

from spark_mm.errors import SourceError
from spark_mm.hashing import sha256_file
from spark_mm.sources.ids import error_id, position_id, record_id
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
    assert rows[0].sample_id == position_id(sha256_file(str(tmp_path / "part-0.parquet")), 0)
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
    # Two datasets with the same id values (and the same bytes) in one namespace: scoped ids never collide.
    twin = tmp_path / "hub" / "datasets--acme--twin"
    (twin / "snapshots" / ("1" * 40) / "data").mkdir(parents=True)
    (twin / "refs").mkdir()
    (twin / "refs" / "main").write_text("1" * 40)
    pq.write_table(hf_image_table(), twin / "snapshots" / ("1" * 40) / "data" / "train-00000-of-00001.parquet")
    keyed = [read_source(spark, HuggingFaceSource(type="hf", dataset=d, cache_dir=str(tmp_path / "hub"), id_column="label"), "r").frame
             for d in ("acme/pics", "acme/twin")]
    pics, twins = ({r.sample_id for r in f.collect()} for f in keyed)
    assert pics == {record_id("hf:acme/pics", "1"), record_id("hf:acme/pics", "2")} and not pics & twins
    missing = HuggingFaceSource(type="hf", dataset="acme/absent", cache_dir=str(tmp_path / "hub"))
    with pytest.raises(SourceError, match="not in the local Hugging Face cache"):
        read_source(spark, missing, "r")


def test_jsonl_with_bad_lines_becomes_error_rows(spark: SparkSession, tmp_path: Path) -> None:
    lines = [json.dumps({"id": "d1", "text": "hello world", "url": "http://a", "lang": "en"}), "{not json", json.dumps({"id": "d3", "body": "no text"}), ""]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"id": "d4", "text": "zipped"}) + "\n")
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b'{"text": "cut"}\n')[:-12])  # truncated gzip
    spec = JsonlSource(type="jsonl", path=str(tmp_path), id_column="id", id_scope="docs")
    rows = read_source(spark, spec, "r").frame.collect()
    by_offset = {(Path(r.source_uri).name, r.source_offset): r for r in rows}
    assert by_offset[("a.jsonl", 0)].text == "hello world" and by_offset[("a.jsonl", 0)].record_meta == {"lang": "en"}
    assert "invalid JSON" in by_offset[("a.jsonl", 1)].ingest_error
    assert "'text' missing" in by_offset[("a.jsonl", 2)].ingest_error
    assert by_offset[("b.jsonl.gz", 0)].text == "zipped"
    assert any(r.ingest_error and "cannot read" in r.ingest_error for r in rows if r.source_uri.endswith("c.jsonl.gz"))
    assert by_offset[("a.jsonl", 0)].sample_id == record_id("docs", "d1")
    assert by_offset[("a.jsonl", 1)].sample_id == position_id(sha256_file(str(tmp_path / "a.jsonl")), 1)  # no id: positional
    assert len({r.sample_id for r in rows}) == len(rows)


# ---- identity through real ingests into one namespace (one module fixture, several asserts) ----

NS = "src_ids"


def write_warc(path: Path, bodies: list[bytes], garbage: bool = False) -> Path:
    """A gzipped WARC: warcinfo, then request + response + metadata per body; ``garbage`` appends a broken tail."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "test"}))
        for body in bodies:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record("http://a.example/", "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"), length=18))
            w.write_record(w.create_warc_record("http://a.example/", "response", payload=io.BytesIO(body), length=len(body), http_headers=http))
            w.write_record(w.create_warc_record("http://a.example/", "metadata", payload=io.BytesIO(b"fetchTimeMs: 1\r\n"), length=16))
    if garbage:
        with open(path, "ab") as fh:
            fh.write(b"\x1f\x8b\x08 not a gzip member, the crawler died here" * 4)
    return path


@pytest.fixture(scope="module")
def ingests(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Ingest, in order: two crawls with equal file names, a moved copy, an id dataset (twice), a WARC folder."""
    import shutil

    from spark_mm.engine.context import RunContext
    from spark_mm.engine.ingest import ingest
    from spark_mm.engine.inputs import SAMPLES
    from spark_mm.lake.settings import LakeSettings
    from spark_mm.lake.tables import Lake
    from spark_mm.sources.record_files import SAMPLES_DDL
    from spark_mm.sources.specs import WarcSource

    lake = Lake(spark, LakeSettings(buckets=4), NS)
    lake.ensure_namespace()
    lake.ensure_table(SAMPLES, spark.createDataFrame([], SAMPLES_DDL).schema)
    base = tmp_path_factory.mktemp("identity")

    def run(run_id: str, spec: object):  # type: ignore[no-untyped-def]
        return ingest(RunContext(spark, lake, run_id, "test", "0" * 64, 4), spec)

    for month, colour in (("2024-01", (255, 0, 0)), ("2024-02", (0, 255, 0))):
        (base / "crawl" / month).mkdir(parents=True)
        pq.write_table(pa.table({"img": pa.array([jpeg(colour)], pa.binary())}), base / "crawl" / month / "part-0.parquet")
    (base / "moved").mkdir()
    shutil.copy(base / "crawl" / "2024-01" / "part-0.parquet", base / "moved" / "renamed.parquet")
    (base / "ds").mkdir()
    pq.write_table(pa.table({"id": ["a", None, "a", "b"], "text": ["t1", "t2", "t3", "t4"]}), base / "ds" / "part-0.parquet")
    (base / "warc").mkdir()
    write_warc(base / "warc" / "a.warc.gz", [b"<p>one</p>", b"<p>two</p>"])
    write_warc(base / "warc" / "b.warc.gz", [b"<p>three</p>"], garbage=True)

    ids = ParquetSource(type="parquet", path=str(base / "ds"), text_column="text", id_column="id")
    out = {
        "jan": run("jan", ParquetSource(type="parquet", path=str(base / "crawl" / "2024-01"), image_column="img")),
        "feb": run("feb", ParquetSource(type="parquet", path=str(base / "crawl" / "2024-02"), image_column="img")),
        "moved": run("moved", ParquetSource(type="parquet", path=str(base / "moved"), image_column="img")),
        "ids": run("ids", ids),
        "ids_again": run("ids-again", ids),
        "warc": run("warc", WarcSource(type="warc", path=str(base / "warc"))),
        "base": base,
    }
    return out


def samples(spark: SparkSession, where: str) -> list:
    return spark.sql(f"SELECT * FROM lake.{NS}.samples WHERE {where} ORDER BY source_uri, source_offset").collect()


def test_two_crawls_with_the_same_file_names_both_land(ingests: dict, spark: SparkSession) -> None:
    assert (ingests["jan"].rows_out, ingests["feb"].rows_out) == (1, 1)
    rows = samples(spark, "source_uri LIKE '%/crawl/%'")
    assert len(rows) == 2 and rows[0].sample_id != rows[1].sample_id
    assert rows[0].sample_id == position_id(sha256_file(str(ingests["base"] / "crawl" / "2024-01" / "part-0.parquet")), 0)


def test_the_same_bytes_moved_and_renamed_append_nothing(ingests: dict) -> None:
    moved = ingests["moved"]
    assert (moved.rows_in, moved.rows_out) == (1, 0) and moved.note == "1 already in the table"


def test_null_and_repeated_ids_become_error_rows(ingests: dict, spark: SparkSession) -> None:
    res = ingests["ids"]
    assert (res.rows_in, res.rows_out, res.rows_with_errors) == (4, 4, 2)
    assert res.note == "1 repeated ids in the source (later occurrences are error rows)"
    rows = samples(spark, "source_uri LIKE '%/ds/%'")
    assert [r.text for r in rows] == ["t1", "t2", "t3", "t4"]
    a, null, again, b = rows
    assert a.sample_id == record_id("ds", "a") and a.ingest_error is None and b.ingest_error is None
    assert null.ingest_error == "null id in column 'id'" and null.source_record_id is None
    assert again.ingest_error.startswith("duplicate id a in column id; first at ") and again.ingest_error.endswith("part-0.parquet:0")
    assert len({r.sample_id for r in rows}) == 4
    assert (ingests["ids_again"].rows_in, ingests["ids_again"].rows_out) == (4, 0)


def test_warc_skips_non_documents_and_a_broken_file_gives_unique_ids(ingests: dict, spark: SparkSession) -> None:
    res = ingests["warc"]
    assert (res.rows_in, res.rows_out, res.rows_with_errors) == (4, 4, 1)  # 3 responses + 1 break
    assert "skipped records (record_types): metadata=3,request=3,warcinfo=2" in res.note
    summary = spark.sql(f"SELECT summary['spark-mm.input'] FROM lake.{NS}.samples.snapshots WHERE snapshot_id = {res.snapshot_id}").first()[0]
    assert summary.endswith("; skipped-records=metadata=3,request=3,warcinfo=2")
    rows = samples(spark, "source_uri LIKE '%.warc.gz'")
    broken = [r for r in rows if r.ingest_error]
    assert len(broken) == 1 and broken[0].ingest_error.startswith("unreadable WARC data after offset")
    assert broken[0].sample_id == error_id(sha256_file(broken[0].source_uri), broken[0].source_offset, 0)
    assert all(r.sample_id == record_id("warc", r.source_record_id) for r in rows if not r.ingest_error)
    assert {r.is_revisit for r in rows if not r.ingest_error} == {False}
    total, distinct = spark.sql(f"SELECT count(*), count(DISTINCT sample_id) FROM lake.{NS}.samples").first()
    assert total == distinct == 2 + 4 + 4


def test_audit_refuses_repeated_and_published_ids(spark: SparkSession, ingests: dict) -> None:
    from spark_mm.engine.ingest import audit_ingest
    from spark_mm.lake.audit import AuditFailed

    main = spark.table(f"lake.{NS}.samples")
    taken = main.select("sample_id").first()[0]
    twice = spark.createDataFrame([("x" * 32, None), ("x" * 32, None), ("y" * 32, None)], "sample_id string, ingest_error string")
    with pytest.raises(AuditFailed, match="staged rows repeat sample_id " + "x" * 32 + "$"):
        audit_ingest(twice, main, "t")
    with pytest.raises(AuditFailed, match=f"already on main: {taken}"):
        audit_ingest(spark.createDataFrame([(taken, None)], "sample_id string, ingest_error string"), main, "t")
    assert audit_ingest(spark.createDataFrame([("z" * 32, "e")], "sample_id string, ingest_error string"), main, "t") == (1, 1)


@pytest.mark.shared_data
def test_real_crawl_request_records_are_skipped(spark: SparkSession, shared_data: Path) -> None:
    from spark_mm.sources.specs import WarcSource

    frame = read_source(spark, WarcSource(type="warc", path=str(shared_data / "warc")), "r").frame
    got = {r[0]: r[1] for r in frame.groupBy("_skipped").count().collect()}
    assert got == {None: 91, "request": 58, "metadata": 20, "warcinfo": 10, "revisit": 1}  # the .wat.gz file: one warcinfo, one metadata
    kinds = {r[0] for r in frame.where("_skipped IS NULL").select(F.col("record_meta")["WARC-Type"]).collect()}
    assert kinds <= {"response", "resource", "conversion", None}  # None: the clipped file's break row
