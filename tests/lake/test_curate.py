"""spark-mm curate: the curated table holds exactly the query's rows, is tagged, exports readable
Parquet and WebDataset shards, and a retried run id commits nothing new."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from spark_mm.errors import ConfigError
from spark_mm.lake.curate import ExportFormat, curate
from spark_mm.lake.settings import LakeSettings

REPO = Path(__file__).resolve().parents[2]
NS = "cur_zi"
SETTINGS = LakeSettings(buckets=4)


def _image(color: tuple[int, int, int], size: tuple[int, int], fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


# sample_id -> (image size, format, quality_ok, clip, aesthetic, nsfw); color from the index
ROWS = {
    "a01": ((300, 300), "PNG", True, 0.30, 5.5, 0.1),  # keep
    "a02": ((300, 260), "JPEG", True, None, None, 0.2),  # keep: unscored models do not reject
    "a03": ((300, 200), "PNG", True, 0.40, 6.0, 0.1),  # min side 200 < 256
    "a04": ((300, 300), "PNG", False, 0.40, 6.0, 0.1),  # quality filter
    "a05": ((300, 300), "PNG", True, 0.20, 6.0, 0.1),  # clip < 0.28
    "a06": ((300, 300), "PNG", True, 0.30, 4.0, 0.1),  # aesthetic < 5
    "a07": ((300, 300), "PNG", True, 0.30, 5.0, 0.7),  # nsfw
    "a08": ((300, 300), "JPEG", True, 0.29, 5.1, 0.0),  # keep
    "a09": ((300, 300), "PNG", True, 0.30, 5.5, 0.1),  # exact copy of a01's bytes: dedup_image_phash keeps a01 only
    "a10": ((256, 400), "PNG", True, 0.28, 5.0, 0.49),  # keep (boundaries)
    "a11": ((300, 300), "PNG", True, 0.30, 5.5, None),  # no NSFW score: dropped
}
KEEP = {"a01", "a02", "a08", "a10"}


@pytest.fixture(scope="module")
def signal_tables(spark: SparkSession) -> None:
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{NS}")
    samples, cpu, models = [], [], []
    for i, (sid, (size, fmt, ok, clip, aes, nsfw)) in enumerate(ROWS.items()):
        payload = _image((0, 0, 0) if sid in ("a01", "a09") else (i * 20, 255 - i * 20, 7), size, fmt)
        samples.append((sid, f"https://x.invalid/{sid}", f"caption {sid}", payload))
        cpu.append((sid, size[0], size[1], fmt.lower(), -i, ok, {} if ok else {"img_quality_filter": "small"}))
        models.append((sid, clip, aes, nsfw))
    spark.createDataFrame(samples, "sample_id string, url string, caption string, image binary").writeTo(f"lake.{NS}.samples").createOrReplace()
    spark.createDataFrame(cpu, "sample_id string, img_width int, img_height int, img_format string, img_phash bigint, img_quality_filter_ok boolean, errors map<string,string>").writeTo(
        f"lake.{NS}.signals_image_cpu"
    ).createOrReplace()
    spark.createDataFrame(models, "sample_id string, clip_score float, img_aesthetic_score float, img_nsfw_score float").writeTo(f"lake.{NS}.signals_image_models").createOrReplace()
    dedup = [(sid, "a01" if sid in ("a01", "a09") else sid, 2 if sid in ("a01", "a09") else 1, sid != "a09") for sid in ROWS]
    spark.createDataFrame(dedup, "sample_id string, dup_cluster_id string, dup_cluster_size int, dup_keep boolean").writeTo(f"lake.{NS}.dedup_image_phash").createOrReplace()


@pytest.fixture(scope="module")
def curated(spark: SparkSession, signal_tables: None, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("export")
    # keep: the payloads byte for byte (the default, auto, is tested below and in test_export_clients.py)
    result = curate(spark, SETTINGS, NS, REPO / "conf" / "z_image_curate.sql", "cur-1", export_dir=out, shard_size=2, image_format="keep")
    return result, out


def _current_snapshot(spark: SparkSession, table: str) -> int:
    return spark.sql(f"SELECT snapshot_id FROM {table}.snapshots ORDER BY committed_at DESC LIMIT 1").first()[0]


def test_rows_match_query(curated, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    result, _ = curated
    assert result.table == f"lake.{NS}.curated_z_image"
    got = {r[0] for r in spark.sql(f"SELECT sample_id FROM {result.table}").collect()}
    assert got == KEEP
    assert result.rows == len(KEEP) and not result.reused


def test_tag_and_lineage(curated, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    result, _ = curated
    refs = {r[0]: (r[1], r[2]) for r in spark.sql(f"SELECT name, type, snapshot_id FROM {result.table}.refs").collect()}
    assert refs["curated-cur-1"] == ("TAG", result.snapshot_id)
    summary = spark.sql(f"SELECT summary FROM {result.table}.snapshots WHERE snapshot_id = {result.snapshot_id}").first()[0]
    assert summary["spark-mm.run-id"] == "cur-1" and summary["spark-mm.stage"] == "curate"
    assert summary["spark-mm.query-sha256"] == result.query_sha256
    inputs = {t: _current_snapshot(spark, f"lake.{NS}.{t}") for t in ("dedup_image_phash", "samples", "signals_image_cpu", "signals_image_models")}
    assert result.inputs == inputs
    assert summary["spark-mm.input"] == ",".join(f"lake.{NS}.{t}@{s}" for t, s in inputs.items())
    tagged = {r[0] for r in spark.sql(f"SELECT sample_id FROM {result.table} VERSION AS OF 'curated-cur-1'").collect()}
    assert tagged == KEEP


def test_parquet_and_webdataset_shards(curated) -> None:  # type: ignore[no-untyped-def]
    result, out = curated
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["snapshot_id"] == result.snapshot_id and manifest["rows"] == len(KEEP)
    assert manifest["counts"] == {"parquet": len(KEEP), "webdataset": len(KEEP)}
    shards = manifest["shards"]
    assert len({s["path"] for s in shards}) == len(shards) and len(shards) >= 2  # shard_size=2: several shards
    pq_keys: list[str] = []
    for s in (s for s in shards if s["format"] == "parquet"):
        table = pq.read_table(out / s["path"])
        assert table.num_rows == s["rows"]
        pq_keys += table.column("sample_id").to_pylist()
    assert sorted(pq_keys) == sorted(KEEP)
    # HF datasets' Image feature: struct<bytes, path> plus the `huggingface` schema metadata (load_dataset("parquet") gives images)
    first = pq.read_table(out / next(s["path"] for s in shards if s["format"] == "parquet"))
    assert str(first.schema.field("image").type) == "struct<bytes: binary, path: string>"
    assert json.loads(first.schema.metadata[b"huggingface"]) == {"info": {"features": {"image": {"_type": "Image"}}}}
    assert Image.open(io.BytesIO(first.column("image").combine_chunks().field("bytes")[0].as_py())).size[0] >= 256
    assert manifest["image_format"] == "keep" and manifest["image_target"] is None and manifest["image_extensions"] == ["jpg", "png"]
    assert manifest["reencoded"] == manifest["reencode_failures"] == 0
    members: dict[str, bytes] = {}
    for s in (s for s in shards if s["format"] == "webdataset"):
        with tarfile.open(out / s["path"]) as tar:
            names = tar.getnames()
            assert len(names) == 3 * s["rows"]
            members.update({n: tar.extractfile(n).read() for n in names})  # type: ignore[union-attr]
    assert set(members) == {f"{k}.{ext}" for k in KEEP for ext in ("json", "txt")} | {"a01.png", "a02.jpg", "a08.jpg", "a10.png"}
    assert members["a02.txt"] == b"caption a02"
    assert Image.open(io.BytesIO(members["a10.png"])).size == (256, 400)
    meta = json.loads(members["a01.json"])
    assert meta["sample_id"] == "a01" and meta["img_width"] == 300 and "image" not in meta
    # 64-bit hashes as imagehash's hex (jq and JavaScript round big integers): a02's img_phash is -1
    assert meta["img_phash"] == "0000000000000000" and json.loads(members["a02.json"])["img_phash"] == "ffffffffffffffff"
    assert meta["clip_score"] == pytest.approx(0.30) and json.loads(members["a02.json"])["clip_score"] is None


def test_retry_commits_nothing_and_re_exports(curated, spark: SparkSession, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, _ = curated
    n_snapshots = spark.sql(f"SELECT count(*) FROM {first.table}.snapshots").first()[0]
    again = curate(spark, SETTINGS, NS, REPO / "conf" / "z_image_curate.sql", "cur-1", export_dir=tmp_path, formats=(ExportFormat.WEBDATASET,), shard_size=10)
    assert again.reused and again.snapshot_id == first.snapshot_id and again.inputs == first.inputs
    assert spark.sql(f"SELECT count(*) FROM {first.table}.snapshots").first()[0] == n_snapshots
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [s["path"] for s in manifest["shards"]] == ["shard-000000.tar"] and manifest["counts"] == {"webdataset": len(KEEP)}


def test_image_format_re_encodes_to_one_extension(curated, spark: SparkSession, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from spark_mm.lake.export_images import ImageFormat

    curate(spark, SETTINGS, NS, REPO / "conf" / "z_image_curate.sql", "cur-1", export_dir=tmp_path, formats=(ExportFormat.WEBDATASET,), image_format=ImageFormat.PNG)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["image_format"] == manifest["image_target"] == "png" and manifest["image_extensions"] == ["png"]
    assert manifest["reencoded"] == 2 and manifest["reencode_failures"] == 0
    with tarfile.open(tmp_path / "shard-000000.tar") as tar:
        members = {n: tar.extractfile(n).read() for n in tar.getnames()}  # type: ignore[union-attr]
    images = {n: b for n, b in members.items() if not n.endswith((".json", ".txt"))}
    assert set(images) == {f"{k}.png" for k in KEEP}  # the JPEGs a02, a08 re-encoded; the PNGs kept byte for byte
    assert all(Image.open(io.BytesIO(b)).format == "PNG" for b in images.values())
    assert {n.rsplit(".", 1)[0] for n in members} == KEEP and len(members) == 3 * len(KEEP)  # every sample: same three members


def test_same_run_id_with_another_query_is_refused(curated, spark: SparkSession, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "z_image_curate.sql"
    other.write_text("SELECT sample_id FROM ${namespace}.samples")
    with pytest.raises(ConfigError, match="different query"):
        curate(spark, SETTINGS, NS, other, "cur-1")
    with pytest.raises(ConfigError, match=r"\$\{nope\}"):
        other.write_text("SELECT sample_id FROM ${nope}.samples")
        curate(spark, SETTINGS, NS, other, "cur-2")


def test_fineweb_query(spark: SparkSession, tmp_path: Path) -> None:
    ns = "cur_fw"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{ns}")
    flags = ("url_filter_ok", "txt_lang_ok", "txt_gopher_repetition_ok", "txt_gopher_quality_ok", "txt_c4_ok", "txt_fineweb_ok")
    rows = [(f"t{i}", *(j != i for j in range(len(flags))), "en", 0.9, f"pii {i}", f"c4 {i}", "title") for i in range(len(flags) + 1)]
    rows.append(("t9", *(True,) * len(flags), "de", 0.9, "pii de", "c4 de", "title"))
    rows.append(("t8", *(True,) * len(flags), "en", 0.9, f"pii {len(flags)}", "c4", "title"))  # near-duplicate of the kept row
    cols = ", ".join(f"{f} boolean" for f in flags)
    spark.createDataFrame(rows, f"sample_id string, {cols}, txt_lang string, txt_lang_score float, txt_pii_text string, txt_c4_text string, txt_title string").writeTo(
        f"lake.{ns}.signals_text"
    ).createOrReplace()
    spark.createDataFrame([(r[0], f"https://x.invalid/{r[0]}") for r in rows], "sample_id string, url string").writeTo(f"lake.{ns}.samples").createOrReplace()
    dedup = [(r[0], "t6" if r[0] in ("t6", "t8") else r[0], r[0] != "t8") for r in rows]
    spark.createDataFrame(dedup, "sample_id string, dup_cluster_id string, dup_keep boolean").writeTo(f"lake.{ns}.dedup_text_minhash").createOrReplace()
    result = curate(spark, SETTINGS, ns, REPO / "conf" / "fineweb_curate.sql", "fw-1", export_dir=tmp_path, formats=(ExportFormat.PARQUET,))
    got = spark.sql(f"SELECT sample_id, text FROM {result.table}").collect()
    assert [(r[0], r[1]) for r in got] == [(f"t{len(flags)}", f"pii {len(flags)}")]  # only the row passing all, in English, once
    texts = [t for s in result.shards for t in pq.read_table(tmp_path / s.path).column("text").to_pylist()]
    assert len(texts) == len(set(texts)) == 1  # the exported rows have distinct texts: the dedup step applies


def test_cli_bare_export_writes_under_the_project_home(curated, spark: SparkSession, lake_home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from spark_mm import cli

    query = str(REPO / "conf" / "z_image_curate.sql")
    assert cli.main(["curate", query, "--namespace", NS, "--export", "--run-id", "cur-1"]) == 0
    manifest = lake_home / "exports" / NS / "z_image" / "manifest.json"
    out = capsys.readouterr().out
    # the default, auto: two JPEGs and two PNGs, a tie, so jpg; the two PNGs are re-encoded
    assert f"manifest {manifest}" in out and "images: 2 re-encoded to jpg (--image-format auto)" in out and "note:" not in out
    written = json.loads(manifest.read_text())
    assert written["counts"] == {"parquet": len(KEEP), "webdataset": len(KEEP)} and written["image_extensions"] == ["jpg"] and written["reencoded"] == 2
    assert cli.main(["curate", query, "--namespace", NS, "--export", "--run-id", "cur-1", "--format", "webdataset", "--image-format", "keep"]) == 0
    out = capsys.readouterr().out
    assert "note: the WebDataset shards mix image extensions (jpg, png)" in out and "re-encoded" not in out
    assert json.loads(manifest.read_text())["image_extensions"] == ["jpg", "png"]
