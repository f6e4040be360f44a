"""spark-mm curate's exports load in the libraries that read them next: the ``webdataset`` library,
HF ``datasets`` (``load_dataset("webdataset")`` and ``("parquet")``, offline) and DuckDB.

One curation of six image-text pairs (three PNGs, a JPEG, a WebP, and a payload no decoder reads
that claims WebP), exported twice from the same tagged snapshot: ``--image-format auto`` (the
default: PNG is the majority, so the JPEG and the WebP are re-encoded) to Parquet and WebDataset,
and ``keep`` to WebDataset (mixed extensions).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from pyspark.sql import SparkSession

from spark_mm.lake.curate import ExportFormat, curate
from spark_mm.lake.settings import LakeSettings

REPO = Path(__file__).resolve().parents[2]
QUERY = REPO / "conf" / "z_image_curate.sql"
NS = "exp_clients"
SETTINGS = LakeSettings(buckets=4)
BAD = "z9"  # its bytes decode as nothing: the re-encode fails, the sample keeps no image member

# sample_id -> (size, Pillow format or None for undecodable bytes, img_format signal, img_phash)
ROWS = {
    "j1": ((280, 260), "JPEG", "jpeg", -1),
    "p1": ((256, 300), "PNG", "png", 0),
    "p2": ((300, 256), "PNG", "png", 0x7FFF_0000_0000_0001),
    "p3": ((320, 270), "PNG", "png", 12345),
    "w1": ((270, 290), "WEBP", "webp", -2),
    BAD: ((300, 300), None, "webp", 7),
}
CAPTIONS = {sid: f"caption {sid}: café, 東京" for sid in ROWS}


def _payload(i: int, size: tuple[int, int], fmt: str | None) -> bytes:
    if fmt is None:
        return b"RIFF\x00\x00\x00\x00WEBP but not an image"
    buf = io.BytesIO()
    Image.new("RGB", size, (40 * i, 200 - 30 * i, 90)).save(buf, format=fmt)
    return buf.getvalue()


PAYLOADS = {sid: _payload(i, size, fmt) for i, (sid, (size, fmt, _, _)) in enumerate(ROWS.items())}


@pytest.fixture(scope="module")
def exports(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(auto export dir with Parquet + WebDataset, keep export dir with WebDataset) from one curation."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{NS}")
    samples = [(sid, f"https://x.invalid/{sid}", CAPTIONS[sid], PAYLOADS[sid]) for sid in ROWS]
    cpu = [(sid, w, h, sig, phash, True) for sid, ((w, h), _, sig, phash) in ROWS.items()]
    spark.createDataFrame(samples, "sample_id string, url string, caption string, image binary").writeTo(f"lake.{NS}.samples").createOrReplace()
    spark.createDataFrame(cpu, "sample_id string, img_width int, img_height int, img_format string, img_phash bigint, img_quality_filter_ok boolean").writeTo(
        f"lake.{NS}.signals_image_cpu"
    ).createOrReplace()
    spark.createDataFrame([(sid, 0.3, 5.5, 0.1) for sid in ROWS], "sample_id string, clip_score float, img_aesthetic_score float, img_nsfw_score float").writeTo(
        f"lake.{NS}.signals_image_models"
    ).createOrReplace()
    spark.createDataFrame([(sid, sid, True) for sid in ROWS], "sample_id string, dup_cluster_id string, dup_keep boolean").writeTo(f"lake.{NS}.dedup_image_phash").createOrReplace()
    auto, keep = tmp_path_factory.mktemp("auto"), tmp_path_factory.mktemp("keep")
    first = curate(spark, SETTINGS, NS, QUERY, "cl-1", export_dir=auto, shard_size=2)  # default: auto
    again = curate(spark, SETTINGS, NS, QUERY, "cl-1", export_dir=keep, formats=(ExportFormat.WEBDATASET,), image_format="keep")
    assert first.rows == len(ROWS) and again.reused and again.snapshot_id == first.snapshot_id
    return auto, keep


@pytest.fixture(scope="module")
def hf_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """HF ``datasets`` with no network and every cache under a temporary HF_HOME; yields the cache_dir."""
    home = tmp_path_factory.mktemp("hf_home")
    with pytest.MonkeyPatch.context() as mp:
        for var, value in (("HF_HOME", home), ("HF_DATASETS_CACHE", home / "datasets"), ("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1")):
            mp.setenv(var, str(value))
        import datasets

        # datasets reads the environment when first imported; an earlier import in this run kept its values
        mp.setattr(datasets.config, "HF_HUB_OFFLINE", True)
        mp.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
        datasets.disable_progress_bars()
        yield home / "datasets"


def _manifest(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "manifest.json").read_text())


def _shards(out: Path, fmt: str) -> list[str]:
    return [str(out / s["path"]) for s in _manifest(out)["shards"] if s["format"] == fmt]


def test_auto_manifest_and_members(exports: tuple[Path, Path]) -> None:
    auto, _ = exports
    m = _manifest(auto)
    assert (m["image_format"], m["image_target"], m["image_extensions"]) == ("auto", "png", ["png"])  # 3 PNGs of 6: the majority
    assert m["reencoded"] == 2 and m["reencode_failures"] == 1  # j1 and w1; z9 decodes as nothing
    assert len(_shards(auto, "webdataset")) == 3 and m["counts"] == {"parquet": 6, "webdataset": 6}
    members: dict[str, bytes] = {}
    for path in _shards(auto, "webdataset"):
        with tarfile.open(path) as tar:
            members.update({n: tar.extractfile(n).read() for n in tar.getnames()})  # type: ignore[union-attr]
    assert {n for n in members if not n.endswith((".json", ".txt"))} == {f"{sid}.png" for sid in ROWS if sid != BAD}
    assert members["p2.png"] == PAYLOADS["p2"]  # the majority keeps its bytes
    assert members["j1.png"] != PAYLOADS["j1"] and members["j1.png"].startswith(b"\x89PNG")  # the minority, re-encoded


def test_keep_mixes_extensions(exports: tuple[Path, Path], hf_offline: Path) -> None:
    import datasets
    import webdataset as wds

    _, keep = exports
    m = _manifest(keep)
    assert (m["image_format"], m["image_target"], m["reencoded"], m["reencode_failures"]) == ("keep", None, 0, 0)
    assert m["image_extensions"] == ["jpg", "png", "webp"]
    samples = list(wds.WebDataset(_shards(keep, "webdataset"), shardshuffle=False))  # raw bytes: the webdataset library reads mixed members
    assert {s["__key__"]: next(k for k in s if k in ("jpg", "png", "webp")) for s in samples} == {"j1": "jpg", "p1": "png", "p2": "png", "p3": "png", "w1": "webp", BAD: "webp"}
    assert all(s[next(k for k in s if k in ("jpg", "png", "webp"))] == PAYLOADS[s["__key__"]] for s in samples)
    # ... and HF datasets does not (what the CLI's note says, and why auto is the default)
    with pytest.raises(ValueError, match="same prefix or the same types"):
        datasets.load_dataset("webdataset", data_files=_shards(keep, "webdataset"), split="train", cache_dir=str(hf_offline))


def test_webdataset_library_decodes_pil(exports: tuple[Path, Path]) -> None:
    import webdataset as wds

    auto, _ = exports
    samples = {s["__key__"]: s for s in wds.WebDataset(_shards(auto, "webdataset"), shardshuffle=False).decode("pil")}
    assert set(samples) == set(ROWS)
    assert {k: set(s) - {"__key__", "__url__", "__local_path__"} for k, s in samples.items()} == {
        sid: {"png", "json", "txt"} if sid != BAD else {"json", "txt"} for sid in ROWS
    }
    for sid, s in samples.items():
        assert s["txt"] == CAPTIONS[sid] and s["json"]["sample_id"] == sid and s["json"]["url"] == f"https://x.invalid/{sid}"
        if sid != BAD:
            assert isinstance(s["png"], Image.Image) and s["png"].size == ROWS[sid][0]
    assert samples["j1"]["json"]["img_phash"] == "ffffffffffffffff" and samples["j1"]["json"]["img_format"] == "jpeg"  # the signal, unchanged


def test_hf_datasets_webdataset(exports: tuple[Path, Path], hf_offline: Path) -> None:
    import datasets

    auto, _ = exports
    ds = datasets.load_dataset("webdataset", data_files=_shards(auto, "webdataset"), split="train", cache_dir=str(hf_offline))
    assert ds.num_rows == len(ROWS) and isinstance(ds.features["png"], datasets.Image)
    assert set(ds.column_names) >= {"__key__", "png", "json", "txt"}
    by_key = {row["__key__"]: row for row in ds}
    assert set(by_key) == set(ROWS)
    for sid, row in by_key.items():
        assert row["txt"] == CAPTIONS[sid] and row["json"]["sample_id"] == sid
        if sid == BAD:
            assert row["png"] is None  # no image member: HF fills the feature with None
        else:
            assert isinstance(row["png"], Image.Image) and row["png"].format == "PNG" and row["png"].size == ROWS[sid][0]
    assert by_key["w1"]["png"].getpixel((5, 5)) == pytest.approx((160, 80, 90), abs=6)  # lossy WebP (Pillow default quality) -> PNG
    assert list(hf_offline.iterdir())  # the Arrow cache went to the temporary cache_dir


def test_hf_datasets_parquet(exports: tuple[Path, Path], hf_offline: Path) -> None:
    import datasets

    auto, _ = exports
    ds = datasets.load_dataset("parquet", data_files=_shards(auto, "parquet"), split="train", cache_dir=str(hf_offline))
    assert ds.num_rows == len(ROWS) and isinstance(ds.features["image"], datasets.Image)  # from the `huggingface` schema metadata
    ids = ds["sample_id"]  # one column: no image decoded
    assert sorted(ids) == sorted(ROWS) and {i: c for i, c in zip(ids, ds["caption"])} == CAPTIONS
    for i, sid in enumerate(ids):
        if sid == BAD:
            continue  # Parquet keeps every payload as it is; this one Pillow cannot open
        img = ds[i]["image"]
        assert isinstance(img, Image.Image) and img.size == ROWS[sid][0] and img.format == ROWS[sid][1]  # not re-encoded in Parquet
    assert ds.features["img_phash"].dtype == "int64" and ds.features["img_width"].dtype == "int32"


def test_duckdb_reads_parquet(exports: tuple[Path, Path]) -> None:
    import duckdb
    import webdataset as wds

    auto, _ = exports
    con = duckdb.connect()
    rel = f"read_parquet({_shards(auto, 'parquet')!r})"
    assert con.execute(f"SELECT count(*) FROM {rel}").fetchone() == (len(ROWS),)
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {rel})").fetchall())
    assert types["sample_id"] == types["caption"] == "VARCHAR" and types["img_phash"] == "BIGINT" and types["clip_score"] == "FLOAT"
    assert types["image"] == "STRUCT(bytes BLOB, path VARCHAR)"
    rows = con.execute(f"SELECT sample_id, printf('%016x', img_phash), octet_length(image.bytes), image.path FROM {rel} ORDER BY sample_id").fetchall()
    assert [r[0] for r in rows] == sorted(ROWS) and all(r[3] is None for r in rows)
    assert {r[0]: r[2] for r in rows} == {sid: len(b) for sid, b in PAYLOADS.items()}  # the bytes as they are
    # the 64-bit hashes: exact BIGINTs in Parquet, the same value as the WebDataset JSON's hex string
    hexes = {s["__key__"]: s["json"]["img_phash"] for s in wds.WebDataset(_shards(auto, "webdataset"), shardshuffle=False).decode()}
    assert {r[0]: r[1] for r in rows} == hexes and hexes["p2"] == "7fff000000000001" and hexes["w1"] == "fffffffffffffffe"
