"""iter_warc_records: every record becomes one row; broken records and files become error rows."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from spark_mm.errors import SourceError
from spark_mm.sources.warc_records import FILE_ERROR, iter_warc_records

HTML = b"<html><head><title>T</title></head><body><p>Hello world.</p></body></html>"
BRONZE = {"source_uri", "source_offset", "source_record_id", "ingest_run_id", "url", "caption", "text", "image",
          "payload", "mime_type", "record_meta", "ingest_error", "is_revisit", "refers_to_record_id"}


def _keys(row: dict) -> set[str]:
    """Bronze keys of a row (FILE_ERROR marks a file-level error row and is not a column)."""
    return set(row) - {FILE_ERROR}


def _write(path: Path, records: list[tuple[str, str, bytes, list[tuple[str, str]] | None]], gz: bool = True) -> Path:
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=gz)
        for rec_type, uri, body, http in records:
            hdrs = StatusAndHeaders("200 OK", http, protocol="HTTP/1.1") if http is not None else None
            rec = w.create_warc_record(uri, rec_type, payload=io.BytesIO(body), length=len(body), http_headers=hdrs)
            w.write_record(rec)
    return path


def test_response_request_revisit_and_non_html(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "a.warc.gz",
        [
            ("response", "http://a.example/", HTML, [("Content-Type", "text/html; charset=utf-8")]),
            ("request", "http://a.example/", b"GET / HTTP/1.1\r\n\r\n", None),
            ("response", "http://a.example/x.pdf", b"%PDF-1.4 ...", [("Content-Type", "application/pdf")]),
            ("revisit", "http://a.example/", b"", [("Content-Type", "text/html")]),
        ],
    )
    rows = list(iter_warc_records(str(f), ingest_run_id="r1"))
    assert len(rows) == 4
    assert all(_keys(r) == BRONZE for r in rows)
    page, req, pdf, rev = rows
    assert page["payload"] == HTML and page["mime_type"] == "text/html" and page["ingest_error"] is None
    assert page["record_meta"]["content_type"] == "text/html; charset=utf-8"
    assert page["record_meta"]["http_status"] == "200"
    assert page["source_record_id"].startswith("<urn:uuid:") and page["ingest_run_id"] == "r1"
    assert [r["source_offset"] for r in rows] == sorted({r["source_offset"] for r in rows})
    assert req["payload"] is None and req["ingest_error"] is None
    assert pdf["payload"].startswith(b"%PDF") and pdf["mime_type"] == "application/pdf"
    assert rev["payload"] is None and rev["record_meta"]["WARC-Type"] == "revisit"
    assert rev["is_revisit"] is True and page["is_revisit"] is False and req["is_revisit"] is False


def test_chunked_and_gzip_content_encoding_are_decoded(tmp_path: Path) -> None:
    chunked = b"5\r\nHello\r\n6\r\n world\r\n0\r\n\r\n"
    gz_body = gzip.compress(HTML)
    f = _write(
        tmp_path / "c.warc",
        [
            ("response", "http://c/", chunked, [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")]),
            ("response", "http://g/", gz_body, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]),
        ],
        gz=False,
    )
    a, b = iter_warc_records(str(f))
    assert a["payload"] == b"Hello world"
    assert b["payload"] == HTML


def test_oversize_guard_drops_payload(tmp_path: Path) -> None:
    f = _write(tmp_path / "o.warc.gz", [("response", "http://o/", b"x" * 5000, [("Content-Type", "text/html")]),
                                         ("response", "http://p/", HTML, [("Content-Type", "text/html")])])
    big, small = iter_warc_records(str(f), max_record_bytes=4096)
    assert big["payload"] is None and "oversize" in big["ingest_error"]
    assert small["payload"] == HTML and small["ingest_error"] is None


def test_truncated_file_gives_error_rows_not_exceptions(tmp_path: Path) -> None:
    f = _write(tmp_path / "t.warc", [("response", "http://a/", HTML * 50, [("Content-Type", "text/html")])] * 2, gz=False)
    data = f.read_bytes()
    cut = tmp_path / "cut.warc"
    cut.write_bytes(data[: len(data) - 400])
    rows = list(iter_warc_records(str(cut)))
    assert len(rows) == 2
    assert rows[0]["ingest_error"] is None
    assert "truncated record" in rows[1]["ingest_error"]
    garbage = tmp_path / "g.warc"
    garbage.write_bytes(data[: len(data) // 2 + 1] + b"\x00garbage that is no WARC header\r\n\r\n" * 3)
    rows = list(iter_warc_records(str(garbage)))
    assert rows and all(_keys(r) == BRONZE for r in rows)
    assert any(r["ingest_error"] for r in rows)


def test_wet_conversion_text(tmp_path: Path) -> None:
    f = _write(tmp_path / "x.wet.gz", [("conversion", "http://w/", "Plain text é".encode(), None)])
    (row,) = iter_warc_records(str(f))
    assert row["text"] == "Plain text é" and row["payload"] is None


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        list(iter_warc_records(str(tmp_path / "nope.warc.gz")))


EXPECTED = {  # records per file of shared/data/warc (warcio's count); errors expected
    "cc_whirlwind.warc.gz": (4, 0),
    "cc_whirlwind.warc.wat.gz": (2, 0),
    "cc_whirlwind.warc.wet.gz": (2, 0),
    "dolma_sample-0000.warc.gz": (48, 0),
    "dolma_sample-0001.warc.gz": (34, 0),
    "resiliparse_cc2020_34.warc.gz": (50, 0),
    "resiliparse_clipped.warc.gz": (1, 1),
    "resiliparse_clueweb09_quirk.warc.gz": (30, 0),
    "warcio_example-iana.org-chunked.warc": (3, 0),
    "warcio_example.warc.gz": (6, 0),
}


@pytest.mark.shared_data
def test_every_shared_warc_file(shared_data: Path) -> None:
    files = sorted((shared_data / "warc").iterdir())
    assert {f.name for f in files} >= set(EXPECTED)
    for f in files:
        rows = list(iter_warc_records(str(f)))
        n_err = sum(r["ingest_error"] is not None for r in rows)
        if f.name in EXPECTED:
            assert (len(rows), n_err) == EXPECTED[f.name], f.name
        assert all(_keys(r) == BRONZE for r in rows)
    quirk = list(iter_warc_records(str(shared_data / "warc" / "resiliparse_clueweb09_quirk.warc.gz")))
    assert quirk[1]["record_meta"]["warc_version"] == "WARC/0.18"
    assert quirk[1]["record_meta"]["WARC-Date"] == "2008-10-294T05:21:46-0700"  # malformed, kept verbatim
    assert sum(r["payload"] is not None for r in quirk) == 29
