"""Sample identity without Spark: id kinds, per-file id assignment, WARC record types, null ids, the sample's home."""

from __future__ import annotations

import io
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from spark_mm import recipe as recipes
from spark_mm.errors import RecipeError
from spark_mm.hashing import sha256_file
from spark_mm.sources.digests import FileDigest, distinct_contents
from spark_mm.sources.ids import error_id, position_id, record_id
from spark_mm.sources.jsonl_records import iter_jsonl_records
from spark_mm.sources.reader import SOURCE_READERS
from spark_mm.sources.record_files import WARC_SCOPE, identify
from spark_mm.sources.specs import DOCUMENT_RECORD_TYPES, SampleImagesSource, SourceSpec, WarcSource
from spark_mm.sources.warc_records import iter_warc_records

REPO = Path(__file__).resolve().parents[2]
HTML = b"<html><body><p>Hello world.</p></body></html>"


def write_warc(path: Path, records: list[tuple[str, bytes, dict[str, str]]]) -> Path:
    """A gzipped WARC with one record per (type, body, extra WARC headers)."""
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for rec_type, body, extra in records:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1") if rec_type in ("response", "revisit") else None
            rec = w.create_warc_record("http://a.example/", rec_type, payload=io.BytesIO(body), length=len(body), http_headers=http, warc_headers_dict=extra or None)
            w.write_record(rec)
    return path


def test_id_kinds_and_scopes_never_collide() -> None:
    d = "ab" * 32
    ids = {record_id("warc", "7"), record_id("hf:a/b", "7"), position_id(d, 7), error_id(d, 7, 0), error_id(d, 7, 1)}
    assert len(ids) == 5 and all(len(i) == 32 for i in ids)
    assert position_id(d, 0) != position_id("cd" * 32, 0)  # other bytes under the same name: new ids


def test_warc_record_types_skipped_and_revisit_columns(tmp_path: Path) -> None:
    f = write_warc(
        tmp_path / "a.warc.gz",
        [
            ("warcinfo", b"software: test\r\n", {}),
            ("request", b"GET / HTTP/1.1\r\n\r\n", {}),
            ("response", HTML, {}),
            ("metadata", b"fetchTimeMs: 1\r\n", {}),
            ("revisit", b"", {"WARC-Refers-To": "<urn:uuid:00000000-0000-0000-0000-000000000001>"}),
            ("conversion", b"plain text", {}),
        ],
    )
    digest = sha256_file(str(f))
    rows = list(identify(iter_warc_records(str(f)), digest, WARC_SCOPE, frozenset(DOCUMENT_RECORD_TYPES)))
    assert [r.get("_skipped") for r in rows] == ["warcinfo", "request", None, "metadata", "revisit", None]
    page, text = rows[2], rows[5]
    assert page["sample_id"] == record_id("warc", page["source_record_id"]) and page["_pos_id"] == position_id(digest, page["source_offset"])
    assert text["text"] == "plain text" and text["sample_id"] != page["sample_id"]
    with_revisit = list(identify(iter_warc_records(str(f)), digest, WARC_SCOPE, frozenset({"response", "revisit"})))
    (rev,) = [r for r in with_revisit if r.get("is_revisit")]
    assert rev["refers_to_record_id"] == "<urn:uuid:00000000-0000-0000-0000-000000000001>"
    assert not page["is_revisit"]


def test_warc_broken_part_way_gives_error_rows_their_own_ids(tmp_path: Path) -> None:
    f = write_warc(tmp_path / "ok.warc.gz", [("response", HTML * 20, {}), ("response", HTML, {})])
    data = f.read_bytes()
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(data + b"\x1f\x8b\x08 this gzip member is garbage" * 4)
    digest = sha256_file(str(broken))
    rows = list(identify(iter_warc_records(str(broken)), digest, WARC_SCOPE, frozenset(DOCUMENT_RECORD_TYPES)))
    assert rows[-1]["ingest_error"] and rows[-1]["source_offset"] == rows[-2]["source_offset"]  # the break reports the last good offset
    assert rows[-1]["sample_id"] == error_id(digest, rows[-1]["source_offset"], 0)
    assert len({r["sample_id"] for r in rows}) == len(rows)


def test_jsonl_null_id_is_an_error_row(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text('{"id": "a", "text": "x"}\n{"id": null, "text": "y"}\n{"text": "z"}\n')
    rows = list(identify(iter_jsonl_records(str(f), text_column="text", id_column="id", url_column=None), sha256_file(str(f)), "d", None))
    assert rows[0]["ingest_error"] is None and rows[0]["sample_id"] == record_id("d", "a")
    for r in rows[1:]:
        assert "id column 'id' missing or null" in r["ingest_error"] and r["sample_id"] == r["_pos_id"]
    assert len({r["sample_id"] for r in rows}) == 3


def test_distinct_contents_and_digest(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"same")
    (tmp_path / "b").write_bytes(b"same")
    assert sha256_file(str(tmp_path / "a")) == "0967115f2813a3541eaef77de9d9d5773f1c0c04314b0bbfe4ff3b3b1c55b5d5"
    a, b = (FileDigest(str(tmp_path / n), sha256_file(str(tmp_path / n)), 4) for n in "ab")
    assert distinct_contents([a, b]) == ([a], [b])


def test_every_source_type_has_a_reader_or_its_own_ingest() -> None:
    from spark_mm.engine.ingesters import SOURCE_INGESTS
    from spark_mm.sources.precheck import SOURCE_PRECHECKS

    spec_classes = typing.get_args(typing.get_args(SourceSpec)[0])
    assert set(spec_classes) == set(SOURCE_READERS) | set(SOURCE_INGESTS)
    assert not set(SOURCE_READERS) & set(SOURCE_INGESTS)
    assert set(spec_classes) == set(SOURCE_PRECHECKS)


def test_record_types_are_validated() -> None:
    assert WarcSource(type="warc", path="x").record_types == ("response", "resource", "conversion")
    with pytest.raises(ValidationError, match="record_types"):
        WarcSource(type="warc", path="x", record_types=("responses",))


def test_sample_images_refuses_a_path_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="did you mean source.type=parquet"):
        SampleImagesSource(type="sample_images", path=str(tmp_path / "x"))
    with pytest.raises(RecipeError, match=r"source\.path: .*did you mean source\.type=parquet"):
        recipes.load(REPO / "conf" / "z_image.yaml", [f"source.path={tmp_path / 'x'}"])
    assert list(tmp_path.iterdir()) == []


def test_sample_generator_writes_only_under_the_project_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("skimage")
    from spark_mm.sources.sample import ensure_sample

    monkeypatch.setenv("SPARK_MM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    path = ensure_sample()
    assert path == tmp_path / "home" / "sample" / "images.parquet"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["home", "home/sample", "home/sample/images.parquet"]
    assert ensure_sample() == path  # generated once
