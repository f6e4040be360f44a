"""Sources read from an S3 object store (moto's server on 127.0.0.1, started by the fixture): listing,
globs and missing paths give the same keys and clear errors; every file-based source reads the same
rows from a copy on S3 as from disk; and the fineweb and z_image recipes run on ``s3://`` sources
give the same sample ids and signal tables as on the local files."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.devstack import object_store, processes
from spark_mm.engine.runner import Runner
from spark_mm.errors import SourceError
from spark_mm.sources import filesystem
from spark_mm.sources.files import list_files, source_key
from spark_mm.sources.reader import read_source
from spark_mm.sources.specs import HuggingFaceSource, ImageFilesSource, JsonlSource, ParquetSource, VideoFilesSource, WarcSource, WebDatasetSource
from spark_mm.sources.video_bytes import PAYLOAD_BYTES, open_video, reference_meta

REPO = Path(__file__).resolve().parents[2]
BUCKET = "sources"
RUN_ID = "s3src-1"
WARC_SUFFIXES = (".warc.gz",)

PARAGRAPHS = [
    "The committee met on Tuesday to review the budget for the coming year. Members agreed that the library "
    "needs a new roof before the winter, and that the reading room should stay open on Sundays.",
    "Volunteers planted forty oak trees along the river path last weekend. The city will water them through "
    "the summer, and schoolchildren will measure how fast they grow as part of a science project.",
    "A local bakery has started selling bread made from wheat grown in the valley. The owner said customers "
    "liked knowing where their food comes from, and that sales doubled in the first month.",
]


# ---------------------------------------------------------------- the store and the files on it


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object_store.ObjectStore]:
    """moto's S3 server on 127.0.0.1 with bucket ``sources``; the AWS_* variables point this process at it."""
    pytest.importorskip("moto.server", reason="moto's server is the dev stack's object store (spark-mm[stack])")
    started = object_store.start(tmp_path_factory.mktemp("s3store"))
    with pytest.MonkeyPatch.context() as mp:
        for key, value in object_store.credentials_env().items():
            mp.setenv(key, value)
        mp.setenv("AWS_ENDPOINT_URL", started.endpoint)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        object_store.create_bucket(started, BUCKET)
        yield started
    processes.stop(started.pid)


def _client(store: object_store.ObjectStore):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("s3", endpoint_url=store.endpoint, region_name=object_store.REGION,
                        aws_access_key_id=object_store.DEV_ACCESS_KEY, aws_secret_access_key=object_store.DEV_SECRET_KEY)


def upload(store: object_store.ObjectStore, local: Path, prefix: str) -> str:
    """Copy the tree under ``local`` to ``s3://sources/<prefix>/`` (same relative names); its URI."""
    client = _client(store)
    for f in sorted(local.rglob("*")):
        if f.is_file():
            client.upload_file(str(f), BUCKET, f"{prefix}/{f.relative_to(local).as_posix()}")
    return f"s3://{BUCKET}/{prefix}"


def write_warc(path: Path, pages: list[tuple[str, str]]) -> Path:
    """A gzipped WARC: warcinfo, then request + response per (url, html) page."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "test"}))
        for url, html in pages:
            body = html.encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"), length=18))
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http))
    return path


def _page(title: str, paras: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"


def image(size: tuple[int, int], seed: int, fmt: str) -> bytes:
    import numpy as np

    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    base = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
    pixels = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def trees(store: object_store.ObjectStore, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Each kind of source as a local tree and its copy on S3: name → (local root, s3 URI)."""
    base = tmp_path_factory.mktemp("s3trees")
    crawl = base / "crawl"
    write_warc(crawl / "2024-01" / "a.warc.gz", [(f"http://news{i}.example/p", _page(f"Story {i}", PARAGRAPHS[i:] + PARAGRAPHS[:i])) for i in range(3)])
    write_warc(crawl / "2024-02" / "b.warc.gz", [("http://blog.example/x", _page("Notes", PARAGRAPHS[::-1])), ("http://short.example/", _page("Hi", ["Hello."]))])
    (crawl / "2024-02" / "_SUCCESS").write_bytes(b"")

    images = base / "images"
    (images / "a").mkdir(parents=True)
    (images / "b" / "deep").mkdir(parents=True)
    (images / "a" / "one.jpg").write_bytes(image((320, 240), 1, "JPEG"))
    (images / "a" / "two.png").write_bytes(image((256, 256), 2, "PNG"))
    (images / "b" / "small.jpg").write_bytes(image((120, 90), 3, "JPEG"))  # below DataComp's 200 px side
    (images / "b" / "deep" / "copy.jpg").write_bytes((images / "a" / "one.jpg").read_bytes())  # byte copy: read once
    (images / "b" / "deep" / "wide.jpg").write_bytes(image((900, 200), 4, "JPEG"))  # aspect 4.5
    (images / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")

    table = base / "table"
    table.mkdir()
    pq.write_table(pa.table({"img": pa.array([image((64, 48), 5, "PNG"), None], pa.binary()), "caption": ["a", "b"], "n": [1, 2]}),
                   table / "part-0.parquet")
    pq.write_table(pa.table({"img": pa.array([image((40, 40), 6, "PNG")], pa.binary()), "caption": ["c"], "n": [3]}), table / "part-1.parquet")
    (table / "bad.parquet").write_bytes(b"PAR1 not a parquet file")

    hfds = base / "hfds"
    (hfds / "data").mkdir(parents=True)
    hf_image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for split, n in (("train", 3), ("test", 1)):
        imgs = pa.array([{"bytes": image((24, 24), 20 + i, "PNG"), "path": f"{i}.png"} for i in range(n)], hf_image)
        pq.write_table(pa.table({"image": imgs, "id": [f"{split}{i}" for i in range(n)]}), hfds / "data" / f"{split}-00000-of-00001.parquet")

    lines = base / "lines"
    lines.mkdir()
    with gzip.open(lines / "docs.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"id": "d1", "text": "first", "url": "http://a/"}) + "\n{broken json\n" + json.dumps({"id": "d2", "text": "x"}) + "\n")

    shards = base / "shards"
    shards.mkdir()
    with tarfile.open(shards / "000000.tar", "w") as tar:
        for key, data in (("k0.jpg", image((32, 32), 7, "JPEG")), ("k0.txt", b"a caption"), ("k1.png", image((16, 16), 8, "PNG")), ("k1.json", b'{"url": "http://u/1"}')):
            info = tarfile.TarInfo(key)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    videos = base / "videos"
    (videos / "sub").mkdir(parents=True)
    (videos / "sub" / "a.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + bytes(range(256)) * 8)  # over inline_max_bytes below
    (videos / "b.webm").write_bytes(b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\x82\x84webm" + b"\x00" * 40)

    return {name: (root, upload(store, root, f"copies/{name}")) for name, root in
            (("crawl", crawl), ("images", images), ("table", table), ("hfds", hfds), ("lines", lines), ("shards", shards), ("videos", videos))}


# ---------------------------------------------------------------- listing, globs, missing paths


def _keys(root: str, files: list[str]) -> list[str]:
    return [source_key(root, f) for f in files]


@pytest.mark.parametrize("pattern", ["", "/", "/**/*.warc.gz", "/*/a.warc.gz", "/2024-0[2]/*.gz", "/2024-01/a.warc.gz"])
def test_listing_gives_the_same_keys_on_disk_and_on_s3(trees: dict[str, tuple[Path, str]], pattern: str) -> None:
    local, remote = trees["crawl"]
    lroot, lfiles = list_files(f"{local}{pattern}", WARC_SUFFIXES)
    sroot, sfiles = list_files(f"{remote}{pattern}", WARC_SUFFIXES, filesystem.storage_for(remote))
    assert _keys(sroot, sfiles) == _keys(lroot, lfiles) and sfiles
    assert all(f.startswith(remote + "/") for f in sfiles)
    # what source_key is relative to has the same name as the local root, so default id scopes match too
    assert sroot.rsplit("/", 1)[-1] == Path(lroot).name


def test_listing_skips_markers_and_other_suffixes(trees: dict[str, tuple[Path, str]]) -> None:
    _, remote = trees["crawl"]
    _, files = list_files(remote, (".warc.gz", "_SUCCESS", ""), filesystem.storage_for(remote))
    assert _keys(f"{remote}", files) == ["2024-01/a.warc.gz", "2024-02/b.warc.gz"]  # _SUCCESS is never a source file
    _, pngs = list_files(trees["images"][1], (".png",), filesystem.storage_for(trees["images"][1]))
    assert [f.rsplit("/", 1)[-1] for f in pngs] == ["two.png"]


def test_missing_prefix_glob_and_bucket_name_the_path_and_settings(trees: dict[str, tuple[Path, str]], store: object_store.ObjectStore) -> None:
    missing = f"s3://{BUCKET}/copies/no-such-crawl/"
    with pytest.raises(SourceError, match="no-such-crawl") as err:
        list_files(missing, WARC_SUFFIXES, filesystem.storage_for(missing))
    assert "AWS_ENDPOINT_URL" in str(err.value) and store.endpoint in str(err.value)
    with pytest.raises(SourceError, match=r"no \.warc\.gz files found at s3://sources/copies/crawl/\*\*/\*\.wet"):
        list_files(trees["crawl"][1] + "/**/*.wet", WARC_SUFFIXES, filesystem.storage_for(missing))
    with pytest.raises(SourceError, match="s3://no-such-bucket/x") as bucket:
        list_files("s3://no-such-bucket/x", WARC_SUFFIXES, filesystem.storage_for(missing))
    assert "AWS_ENDPOINT_URL" in str(bucket.value)


def test_unreachable_store_is_a_source_error_without_the_keys() -> None:
    dead = filesystem.Storage(endpoint=f"http://127.0.0.1:{processes.free_port()}", region="us-east-1", access_key="AKDEAD", secret_key="SECRETDEAD")
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="s3://sources/crawl") as err:
        list_files("s3://sources/crawl/", WARC_SUFFIXES, dead)
    assert dead.endpoint in str(err.value) and "SECRETDEAD" not in str(err.value) and "AKDEAD" not in str(err.value)
    assert time.monotonic() - t0 < 120


def test_storage_comes_from_the_environment(store: object_store.ObjectStore) -> None:
    s = filesystem.Storage.from_env()
    assert s.endpoint == store.endpoint and s.region == object_store.REGION and s.secret_key == object_store.DEV_SECRET_KEY
    assert object_store.DEV_SECRET_KEY not in repr(s) and filesystem.storage_for("/local/path") is None


def test_session_forwards_the_store_address_to_executors_but_never_the_keys(store: object_store.ObjectStore) -> None:
    from spark_mm.engine.session import session_conf
    from spark_mm.lake.settings import LakeSettings, SparkSettings

    conf = session_conf(LakeSettings(), SparkSettings())
    assert conf["spark.executorEnv.AWS_ENDPOINT_URL"] == store.endpoint and conf["spark.executorEnv.AWS_REGION"] == object_store.REGION
    assert not any(object_store.DEV_SECRET_KEY in v or object_store.DEV_ACCESS_KEY in v for v in conf.values())


def test_video_reference_reads_an_s3_byte_range(trees: dict[str, tuple[Path, str]]) -> None:
    local, remote = trees["videos"]
    data = (local / "sub" / "a.mp4").read_bytes()
    with open_video(None, remote + "/sub/a.mp4", reference_meta(100, 1000)) as fh:  # type: ignore[union-attr]
        assert fh.read(10) == data[100:110]
        fh.seek(500)
        assert fh.read() == data[600:1100]
    from spark_mm.sources.video_bytes import PayloadRefError

    with pytest.raises(PayloadRefError, match="runs past the end"):
        open_video(None, remote + "/sub/a.mp4", reference_meta(100, len(data)))
    with pytest.raises(PayloadRefError, match="AWS_ENDPOINT_URL"):
        open_video(None, remote + "/sub/gone.mp4", reference_meta(0, 1))


# ---------------------------------------------------------------- every reader: disk vs S3 copy


def _spec(kind: str, path: str):  # type: ignore[no-untyped-def]
    return {
        "crawl": lambda: WarcSource(type="warc", path=path),
        "images": lambda: ImageFilesSource(type="image_files", path=path),
        "table": lambda: ParquetSource(type="parquet", path=path, image_column="img", caption_column="caption"),
        "hfds": lambda: HuggingFaceSource(type="hf", dataset=path, split="train", id_column="id"),
        "lines": lambda: JsonlSource(type="jsonl", path=path, id_column="id"),
        "shards": lambda: WebDatasetSource(type="webdataset", path=path),
        "videos": lambda: VideoFilesSource(type="video_files", path=path, inline_max_bytes=1000),
    }[kind]()


# columns that name where the bytes lie (and a file's mtime): the only ones allowed to differ
_WHERE = {"source_uri", "ingest_run_id"}


def _comparable(row) -> tuple:  # type: ignore[no-untyped-def]
    d = row.asDict()
    meta = {k: v for k, v in (d.get("record_meta") or {}).items() if k != "modified"}
    return tuple(sorted((k, repr(meta if k == "record_meta" else v)) for k, v in d.items() if k not in _WHERE))


@pytest.mark.parametrize("kind", ["crawl", "images", "table", "hfds", "lines", "shards", "videos"])
def test_each_source_reads_the_same_rows_from_s3(trees: dict[str, tuple[Path, str]], spark: SparkSession, kind: str) -> None:
    local, remote = trees[kind]
    a, b = read_source(spark, _spec(kind, str(local)), "r"), read_source(spark, _spec(kind, remote), "r")
    rows_a, rows_b = a.frame.collect(), b.frame.collect()
    assert rows_a and sorted(map(_comparable, rows_b)) == sorted(map(_comparable, rows_a))
    assert all(r.source_uri.startswith(remote + "/") for r in rows_b if r.source_uri), [r.source_uri for r in rows_b]
    assert a.input.rsplit(":", 2)[1:] == b.input.rsplit(":", 2)[1:] and remote in b.input  # same file count and content digest
    assert a.notes == b.notes
    plan = b.frame._jdf.queryExecution().toString()
    assert object_store.DEV_SECRET_KEY not in plan  # the storage option is redacted in plans


def test_large_video_on_s3_stays_a_reference(trees: dict[str, tuple[Path, str]], spark: SparkSession) -> None:
    _, remote = trees["videos"]
    rows = {r.source_record_id: r for r in read_source(spark, _spec("videos", remote), "r").frame.collect()}
    big = rows["sub/a.mp4"]
    assert big.payload is None and big.record_meta["payload_ref"] == "external" and big.source_uri == remote + "/sub/a.mp4"
    assert rows["b.webm"].payload is not None and rows["b.webm"].record_meta[PAYLOAD_BYTES] == str(len(rows["b.webm"].payload))
    with open_video(None, big.source_uri, big.record_meta) as fh:  # type: ignore[union-attr]
        assert fh.read(12)[4:8] == b"ftyp"


# ---------------------------------------------------------------- recipes: disk vs S3


def _run(recipe: str, namespace: str, overrides: list[str], spark: SparkSession):  # type: ignore[no-untyped-def]
    loaded = recipes.load(REPO / "conf" / recipe, [f"namespace={namespace}", "lake.buckets=4", "tracking.enabled=false", *overrides])
    t0 = time.monotonic()
    result = Runner(loaded, run_id=RUN_ID, spark=spark).run()
    return result, time.monotonic() - t0


def _table_rows(spark: SparkSession, table: str, drop: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    df = spark.table(table)
    return sorted(tuple(repr(v) for v in r) for r in df.drop(*drop).collect())


@pytest.fixture(scope="module")
def recipe_runs(trees: dict[str, tuple[Path, str]], spark: SparkSession) -> dict[str, object]:
    """fineweb over the crawl and z_image over the image folder, each from disk and from S3 (same run id)."""
    crawl_local, crawl_s3 = trees["crawl"]
    images_local, images_s3 = trees["images"]
    image_src = ["source.type=image_files"]
    out: dict[str, object] = {}
    for where, crawl, images in (("local", crawl_local, images_local), ("s3", crawl_s3, images_s3)):
        out[f"text_{where}"] = _run("fineweb.yaml", f"s3fw_{where}", [f"source.path={crawl}"], spark)
        out[f"image_{where}"] = _run("z_image.yaml", f"s3zi_{where}", [*image_src, f"source.path={images}"], spark)
    return out


@pytest.mark.parametrize("job,prefix", [("text", "s3fw"), ("image", "s3zi")])
def test_recipe_on_s3_equals_the_local_run(recipe_runs: dict[str, object], spark: SparkSession, job: str, prefix: str) -> None:
    (local, _), (remote, _) = recipe_runs[f"{job}_local"], recipe_runs[f"{job}_s3"]  # type: ignore[misc]
    assert [(s.stage, s.rows_in, s.rows_out, s.rows_with_errors) for s in remote.stages] == [(s.stage, s.rows_in, s.rows_out, s.rows_with_errors) for s in local.stages]
    a, b = f"lake.{prefix}_local", f"lake.{prefix}_s3"
    tables = {r.tableName for r in spark.sql(f"SHOW TABLES IN {a}").collect()}
    assert tables == {r.tableName for r in spark.sql(f"SHOW TABLES IN {b}").collect()}
    assert "samples" in tables and any(t.startswith("signals_") for t in tables)
    ids = [r.sample_id for r in spark.table(f"{a}.samples").select("sample_id").orderBy("sample_id").collect()]
    assert ids and ids == [r.sample_id for r in spark.table(f"{b}.samples").select("sample_id").orderBy("sample_id").collect()]
    for table in sorted(tables - {"samples"}):
        assert spark.table(f"{a}.{table}").schema == spark.table(f"{b}.{table}").schema, table
        assert _table_rows(spark, f"{b}.{table}") == _table_rows(spark, f"{a}.{table}"), table
    # samples differ only where the bytes lie (and an image file's mtime in record_meta)
    sa = sorted(_comparable(r) for r in spark.table(f"{a}.samples").collect())
    sb = sorted(_comparable(r) for r in spark.table(f"{b}.samples").collect())
    assert sa == sb
    uris = [r.source_uri for r in spark.table(f"{b}.samples").select("source_uri").collect()]
    assert uris and all(u.startswith("s3://sources/copies/") for u in uris if u)


def test_recipe_timings_are_reported(recipe_runs: dict[str, object]) -> None:
    """Not a check of speed: the numbers docs/deploy.md quotes come from here (pytest -s prints them)."""
    for name, (result, seconds) in sorted(recipe_runs.items()):  # type: ignore[misc]
        stages = ", ".join(f"{s.stage} {s.seconds:.1f}s" for s in result.stages)
        print(f"[s3-sources] {name}: {seconds:.1f} s wall ({stages})")
        assert seconds > 0 and os.environ.get("AWS_ENDPOINT_URL")
