"""Video sources and vid_meta through real Spark + Iceberg: video files (one over the inline cap,
broken ones, a renamed copy), a WebDataset shard with images and videos, Parquet video bytes;
rows in = rows out, and a re-run appends nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.sql import SparkSession

pytest.importorskip("av")

from spark_mm import recipe as recipes  # noqa: E402
from spark_mm.engine.runner import Runner  # noqa: E402
from spark_mm.hashing import sha256_file  # noqa: E402
from spark_mm.sources.ids import position_id  # noqa: E402
from spark_mm.sources.reader import read_source  # noqa: E402
from spark_mm.sources.specs import ParquetSource  # noqa: E402
from tests.video_fixtures import GARBAGE, encode, tar_bytes, truncated  # noqa: E402

CAP = 8000  # inline_max_bytes of these tests: the noisy mkv is over it, the others under


def jpeg(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(buf, "JPEG")
    return buf.getvalue()


def recipe(namespace: str, source: dict) -> recipes.LoadedRecipe:  # type: ignore[type-arg]
    return recipes.from_mapping(
        {
            "job": "video", "namespace": namespace, "source": source,
            "stages": [{"name": "meta", "ops": [{"op": "vid_meta"}]}],
            "lake": {"buckets": 4}, "tracking": {"enabled": False},
        }
    )


@pytest.fixture(scope="module")
def video_runs(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    src = tmp_path_factory.mktemp("videos")
    mp4 = encode("mp4v")
    big = encode("mkv", noise_px=32)
    assert len(mp4) < CAP < len(big)
    (src / "a.mp4").write_bytes(mp4)
    (src / "b.webm").write_bytes(encode("webm"))
    (src / "sub").mkdir()
    (src / "sub" / "big.mkv").write_bytes(big)
    (src / "cut.webm").write_bytes(truncated(encode("webm", frames=60)))
    (src / "noise.mp4").write_bytes(GARBAGE)
    (src / "copy_of_a.mov").write_bytes(mp4)  # the same bytes renamed: one sample
    (src / "notes.txt").write_text("not listed")
    rec = recipe("vid", {"type": "video_files", "path": str(src), "inline_max_bytes": CAP})
    first = Runner(rec, run_id="vid-1", spark=spark).run()
    again = Runner(rec, run_id="vid-2", spark=spark).run()
    return src, first, again


def test_video_files_ingest_and_meta(video_runs, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    src, first, _ = video_runs
    ingest, meta = first.stages
    assert (ingest.rows_in, ingest.rows_out) == (5, 5) and "1 files byte-identical" in ingest.note
    assert (meta.rows_in, meta.rows_out) == (5, 5)
    rows = {
        r.source_record_id: r
        for r in spark.sql(
            "SELECT s.source_record_id, s.sample_id, s.mime_type, s.payload IS NULL AS no_payload, s.record_meta, "
            "m.vid_codec, m.vid_frames, m.vid_frames_counted, m.vid_meta_reason, m.errors "
            "FROM vid.samples s JOIN vid.signals_meta m USING (sample_id)"
        ).collect()
    }
    assert set(rows) == {"a.mp4", "b.webm", "sub/big.mkv", "cut.webm", "noise.mp4"}
    a, big = rows["a.mp4"], rows["sub/big.mkv"]
    assert a.sample_id == position_id(sha256_file(src / "a.mp4"), 0) and a.mime_type == "video/mp4" and not a.no_payload
    assert (a.vid_codec, a.vid_frames, a.vid_meta_reason) == ("mpeg4", 48, None)
    # over the cap: no bytes in the table, a reference the operator followed to the file
    assert big.no_payload and big.record_meta["payload_ref"] == "external" and int(big.record_meta["payload_bytes"]) > CAP
    assert (big.mime_type, big.vid_codec, big.vid_frames, big.vid_frames_counted) == ("video/x-matroska", "mpeg4", 48, True)
    assert rows["b.webm"].vid_codec == "vp9" and rows["b.webm"].mime_type == "video/webm"
    assert rows["cut.webm"].vid_meta_reason == "truncated" and "vid_meta" in rows["cut.webm"].errors
    assert rows["noise.mp4"].vid_meta_reason == "not_video" and rows["noise.mp4"].errors == {}


def test_video_rerun_appends_nothing(video_runs, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    _, _, again = video_runs
    ingest, meta = again.stages
    assert ingest.rows_out == 0 and "5 already in the table" in ingest.note
    assert spark.table("vid.samples").count() == 5 and spark.table("vid.signals_meta").count() == 5
    assert meta.rows_out == 0 or meta.skipped


def test_webdataset_shard_of_images_and_videos(spark: SparkSession, tmp_path: Path) -> None:
    small, big = encode("mp4v"), encode("mkv", noise_px=32)
    members = [
        ("000000.jpg", jpeg((255, 0, 0))), ("000000.txt", b"a red square"), ("000000.json", b'{"url": "https://x.test/0.jpg", "status": "success"}'),
        ("000001.mp4", small), ("000001.txt", b"a gradient"), ("000001.json", b'{"url": "https://x.test/1.mp4", "meta": {"fps": 12}}'),
        ("000002.mkv", big), ("000002.json", b'{"url": "https://x.test/2.mkv"}'),
        ("000003.jpg", jpeg((0, 0, 255))), ("000003.json", b"{broken"),
    ]
    (tmp_path / "shards").mkdir()
    shard = tmp_path / "shards" / "00000.tar"
    shard.write_bytes(tar_bytes(members))
    rec = recipe("wds", {"type": "webdataset", "path": str(tmp_path / "shards"), "inline_max_bytes": CAP})
    ingest, meta = Runner(rec, run_id="wds-1", spark=spark).run().stages
    assert (ingest.rows_in, ingest.rows_out, ingest.rows_with_errors) == (4, 4, 1)
    assert (meta.rows_in, meta.rows_out) == (4, 4)
    rows = {
        r.source_record_id: r
        for r in spark.sql(
            "SELECT s.*, m.vid_codec, m.vid_frames, m.vid_meta_reason FROM wds.samples s JOIN wds.signals_meta m USING (sample_id)"
        ).collect()
    }
    digest = sha256_file(shard)
    assert {k: r.sample_id for k, r in rows.items()} == {k: position_id(digest, k) for k in ("000000", "000001", "000002", "000003")}
    img, vid, ref, bad = rows["000000"], rows["000001"], rows["000002"], rows["000003"]
    assert img.image[:2] == b"\xff\xd8" and img.caption == "a red square" and img.url == "https://x.test/0.jpg"
    assert img.record_meta["status"] == "success" and img.vid_meta_reason == "missing_input"
    assert vid.payload == small and vid.record_meta["meta.fps"] == "12" and (vid.vid_codec, vid.vid_frames) == ("mpeg4", 48)
    assert ref.payload is None and ref.record_meta["payload_ref"] == "external" and int(ref.record_meta["payload_offset"]) % 512 == 0
    assert (ref.vid_codec, ref.vid_frames, ref.vid_meta_reason) == ("mpeg4", 48, None)  # read from inside the tar
    assert bad.ingest_error.startswith("000003.json: invalid JSON") and bad.image is not None
    rerun = Runner(rec, run_id="wds-2", spark=spark).run().stages[0]
    assert rerun.rows_out == 0 and spark.table("wds.samples").count() == 4


def test_parquet_video_column(spark: SparkSession, tmp_path: Path) -> None:
    clip = encode("mp4v", frames=12)
    pq.write_table(pa.table({"vid": pa.array([clip, None], pa.binary()), "title": ["a clip", "none"]}), tmp_path / "v.parquet")
    rows = sorted(read_source(spark, ParquetSource(type="parquet", path=str(tmp_path), video_column="vid", caption_column="title"), "r").frame.collect(), key=lambda r: r.source_offset)
    assert rows[0].payload == clip and rows[0].image is None and rows[0].caption == "a clip" and rows[0].ingest_error is None
    assert rows[1].payload is None and rows[1].ingest_error == "null video payload"
