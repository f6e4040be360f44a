"""Video files and WebDataset shards → bronze rows, without Spark: inline vs reference, MIME types,
keys, error rows for every malformed member, positional ids by shard digest and key."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from spark_mm.hashing import sha256_file
from spark_mm.sources.ids import error_id, position_id, record_id
from spark_mm.sources.record_files import identify
from spark_mm.sources.video_bytes import PayloadRefError, open_video, reference_meta, sniff_video_mime
from spark_mm.sources.video_records import iter_video_file
from spark_mm.sources.warc_records import FILE_ERROR
from spark_mm.sources.webdataset_records import iter_webdataset_records
from tests.video_fixtures import tar_bytes

# Container headers as the muxers write them (first bytes of PyAV-written files)
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 64
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 64
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm" + b"\x00" * 64
MKV = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x88matroska" + b"\x00" * 64


def test_sniffed_mime_types() -> None:
    assert [sniff_video_mime(h) for h in (MP4, MOV, WEBM, MKV, b"RIFF\x00\x00\x00\x00AVI LIST", b"\xff\xd8\xff")] == [
        "video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/x-msvideo", None,
    ]


def test_video_file_inline_and_reference(tmp_path: Path) -> None:
    small, big = tmp_path / "a.mp4", tmp_path / "sub" / "b.MOV"
    big.parent.mkdir()
    small.write_bytes(MP4)
    big.write_bytes(MOV * 10)
    (row,) = iter_video_file(str(small), key="a.mp4", inline_max_bytes=len(MP4))
    assert row["payload"] == MP4 and row["mime_type"] == "video/mp4" and row["record_meta"] == {"payload_bytes": str(len(MP4))}
    assert row["source_offset"] == 0 and row["source_record_id"] == "a.mp4" and row["ingest_error"] is None
    (ref,) = iter_video_file(str(big), key="sub/b.MOV", inline_max_bytes=len(MOV))
    assert ref["payload"] is None and ref["mime_type"] == "video/quicktime"
    assert ref["record_meta"] == {"payload_ref": "external", "payload_offset": "0", "payload_bytes": str(len(MOV) * 10)}
    with open_video(ref["payload"], str(big), ref["record_meta"]) as fh:  # type: ignore[union-attr]
        assert fh.read() == MOV * 10


def test_empty_and_unknown_container_files(tmp_path: Path) -> None:
    empty, odd = tmp_path / "e.webm", tmp_path / "x.mkv"
    empty.write_bytes(b"")
    odd.write_bytes(b"not a header")
    (e,) = iter_video_file(str(empty), key="e.webm", inline_max_bytes=10)
    (o,) = iter_video_file(str(odd), key="x.mkv", inline_max_bytes=100)
    assert e["ingest_error"] == "empty file" and e["mime_type"] == "video/webm"  # from the extension
    assert o["ingest_error"] is None and o["mime_type"] == "video/x-matroska"


def test_open_video_window_and_bad_references(tmp_path: Path) -> None:
    f = tmp_path / "shard.tar"
    f.write_bytes(b"0123456789")
    assert open_video(b"abc", None, None).read() == b"abc"  # type: ignore[union-attr]
    assert open_video(None, None, None) is None and open_video(None, str(f), {"payload_bytes": "3"}) is None
    with open_video(None, f.as_uri(), reference_meta(2, 5)) as fh:  # type: ignore[union-attr]
        assert fh.read(2) == b"23" and fh.seek(0, io.SEEK_END) == 5 and fh.seek(1) == 1 and fh.read() == b"3456"
    with pytest.raises(PayloadRefError, match="runs past the end"):
        open_video(None, str(f), reference_meta(8, 5))
    with pytest.raises(PayloadRefError, match="unreadable"):
        open_video(None, str(tmp_path / "gone"), reference_meta(0, 1))
    with pytest.raises(PayloadRefError, match="malformed"):
        open_video(None, str(f), {"payload_ref": "external", "payload_offset": "x"})


def shard(tmp_path: Path, members: list[tuple[str, bytes]], name: str = "00000.tar") -> Path:
    p = tmp_path / name
    p.write_bytes(tar_bytes(members))
    return p


def rows_of(path: Path, **kw: object) -> list[dict]:  # type: ignore[type-arg]
    opts = {"inline_max_bytes": 1 << 20, "max_image_bytes": 1 << 20, "id_field": None, **kw}
    return list(iter_webdataset_records(str(path), **opts))  # type: ignore[arg-type]


def test_img2dataset_layout(tmp_path: Path) -> None:
    meta = {"url": "https://x.test/a.jpg", "caption": "from json", "key": "000000", "status": "success", "exif": {"Make": "Canon"}, "width": 16}
    p = shard(tmp_path, [
        ("000000.jpg", b"\xff\xd8jpeg"), ("000000.txt", "a red ball é".encode()), ("000000.json", json.dumps(meta).encode()),
        ("000001.png", b"\x89PNGpng"), ("000001.json", json.dumps({"caption": "json caption only"}).encode()),
        ("000002.mp4", MP4), ("000002.json", b"{}"),
    ])
    a, b, c = rows_of(p)
    assert a["image"] == b"\xff\xd8jpeg" and a["caption"] == "a red ball é" and a["url"] == "https://x.test/a.jpg"
    assert a["record_meta"]["exif.Make"] == "Canon" and a["record_meta"]["width"] == "16" and a["record_meta"]["wds_members"] == "jpg,txt,json"
    assert a["mime_type"] == "image/jpeg" and a["source_record_id"] == "000000" and a["source_offset"] == 0 and a["_position"] == "000000"
    assert b["caption"] == "json caption only" and b["ingest_error"] is None and b.get("url") is None
    assert c["payload"] == MP4 and c.get("image") is None and c["mime_type"] == "video/mp4" and c["record_meta"]["payload_bytes"] == str(len(MP4))
    assert all(r["ingest_error"] is None for r in (a, b, c))
    assert b["source_offset"] > a["source_offset"]  # the first member's header offset in the tar


def test_large_video_member_is_a_reference_into_the_tar(tmp_path: Path) -> None:
    video = WEBM * 100
    p = shard(tmp_path, [("clips/k1.webm", video), ("clips/k1.txt", b"cap")])
    (row,) = rows_of(p, inline_max_bytes=len(video) - 1)
    assert row["payload"] is None and row["mime_type"] == "video/webm" and row["record_meta"]["payload_ref"] == "external"
    assert row["source_record_id"] == "clips/k1" and row["ingest_error"] is None
    with open_video(None, str(p), row["record_meta"]) as fh:  # type: ignore[union-attr]
        assert fh.read() == video  # the member's bytes, found at its data offset in the shard


def test_malformed_members_are_error_rows(tmp_path: Path) -> None:
    p = shard(tmp_path, [
        ("a.jpg", b"1"), ("a.png", b"2"),  # two images
        ("b.jpg", b"3"), ("b.json", b"{nope"),  # invalid JSON
        ("c.jpg", b"4"), ("c.txt", b"\xff\xfe"),  # not UTF-8
        ("d.txt", b"only text"),  # no media
        ("README", b"x"),  # no extension
        ("e.jpg", b"5" * 100),  # oversize image
        ("a.txt", b"late"),  # key a again, not contiguous
        ("f.json", b"[1]"),  # not an object
    ])
    rows = rows_of(p, max_image_bytes=50)
    errs = [(r.get("source_record_id"), r["ingest_error"], bool(r.get(FILE_ERROR))) for r in rows]
    assert errs[0] == ("a", "a.png: a second image member; kept the first", False) and rows[0]["image"] == b"1"
    assert errs[1][1].startswith("b.json: invalid JSON") and rows[1]["image"] == b"3"
    assert errs[2][1].startswith("c.txt: caption is not UTF-8")
    assert errs[3] == ("d", "d: no image or video member (members: txt)", False)
    assert errs[4] == (None, "member 'README' at offset 7168 has no extension (expected KEY.EXT)", True)
    assert errs[5] == ("e", "e.jpg: image member of 100 bytes exceeds max_image_bytes 50", False) and rows[5]["image"] is None
    assert errs[6][2] and errs[6][1].startswith("key 'a' repeats at offset") and "must be contiguous" in errs[6][1]
    assert errs[7][1] == "f.json: expected an object, got list; f: no image or video member (members: json)"
    assert len(rows) == 8


def test_truncated_shard_keeps_its_rows_and_adds_a_file_error(tmp_path: Path) -> None:
    whole = tar_bytes([("k0.jpg", b"a" * 600), ("k1.jpg", b"b" * 600), ("k2.jpg", b"c" * 600)])  # members at 0, 1536, 3072
    p = tmp_path / "cut.tar"
    p.write_bytes(whole[:2000])  # k1's header cut short: tarfile itself would end quietly here
    k0, broken = rows_of(p)
    assert k0["source_record_id"] == "k0" and k0["image"] == b"a" * 600 and k0["ingest_error"] is None
    assert broken[FILE_ERROR] and broken["source_offset"] == 1536
    assert broken["ingest_error"] == f"cannot read tar {p}: 464 bytes at offset 1536 are not a tar header (truncated shard?)"
    p.write_bytes(whole[:2400])  # k1's data (2048..2648) cut short
    k0, k1, broken = rows_of(p)
    assert k0["ingest_error"] is None and k1.get("image") is None
    assert k1["ingest_error"] == "shard breaks in this key: ReadError: unexpected end of data"
    assert broken[FILE_ERROR] and broken["ingest_error"].startswith(f"cannot read tar {p}: ReadError")
    p.write_bytes(whole)
    assert [r["ingest_error"] for r in rows_of(p)] == [None, None, None]  # zero end blocks are a clean end


def test_ids_are_shard_digest_and_key_and_survive_a_rename(tmp_path: Path) -> None:
    members = [("k0.jpg", b"a"), ("k1.jpg", b"b"), ("bad", b"c")]
    a = shard(tmp_path, members, "a.tar")
    digest = sha256_file(a)
    ids = [r["sample_id"] for r in identify(iter(rows_of(a)), digest, None, None)]
    assert ids == [position_id(digest, "k0"), position_id(digest, "k1"), error_id(digest, 2048, 0)]
    renamed = shard(tmp_path, members, "renamed.tar")
    assert [r["sample_id"] for r in identify(iter(rows_of(renamed)), sha256_file(renamed), None, None)] == ids


def test_id_field_from_the_json(tmp_path: Path) -> None:
    p = shard(tmp_path, [("k0.jpg", b"a"), ("k0.json", b'{"uid": 7}'), ("k1.jpg", b"b"), ("k1.json", b"{}")])
    rows = list(identify(iter(rows_of(p, id_field="uid")), sha256_file(p), "crawl", None))
    assert rows[0]["sample_id"] == record_id("crawl", "7") and rows[0]["source_record_id"] == "7"
    assert rows[1]["sample_id"] == rows[1]["_pos_id"] == position_id(sha256_file(p), "k1")
    assert rows[1]["ingest_error"] == "k1: id field 'uid' missing, null or not a scalar in its json"
