"""The LAION job end to end (both phases of jobs/laion.py on the test session) on a WARC made here,
its images served by a real HTTP server on 127.0.0.1: rows in = rows out at every stage, the alt
text's language on links and samples, a repeated (URL, alt) pair flagged, and the curation query
exporting img2dataset-shaped WebDataset shards."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_mm import recipe as recipes
from spark_mm.cli import DEFAULT_RECIPES, DEFAULT_THEN
from spark_mm.engine.chain import run_chain
from spark_mm.lake.curate import ExportFormat, curate
from spark_mm.lake.export_images import ImageFormat
from spark_mm.lake.settings import LakeSettings
from tests.download.server import ImageServer, make_image

REPO = Path(__file__).resolve().parents[2]
PAGES, IMAGES = "laion_it_pages", "laion_it"
EN = "a black cat sleeping on a wooden table in the garden"
FR = "un chat noir qui dort sur une table en bois dans le jardin"
IMG2DATASET_FIELDS = {"url", "caption", "key", "status", "error_message", "width", "height", "original_width", "original_height", "exif", "sha256"}


def write_warc(path: Path, pages: list[tuple[str, str]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for url, body in pages:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            data = body.encode()
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(data), length=len(data), http_headers=http))


@pytest.fixture(scope="module")
def server() -> Iterator[ImageServer]:
    srv = ImageServer().start()
    for n in (1, 2):  # photo-sized JPEGs over LAION's 5 KB floor; /img/3.jpg stays the small default (< 5 KB)
        srv.state.images[(n, "JPEG")] = make_image(n, "JPEG", size=(240, 180))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def job(spark: SparkSession, server: ImageServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("laion_crawl")
    u = server.url
    page1 = (
        f'<html><body><img src="{u("/img/1.jpg")}" alt="{EN}"><img src="{u("/img/2.jpg")}" alt="{FR}">'
        f'<img src="{u("/img/3.jpg")}" alt="a small picture of a red square"><img src="{u("/status/404")}" alt="a photo that is gone now">'
        f'<img src="/logo.svg" alt="Logo of the site"><img src="{u("/img/1.jpg")}"></body></html>'
    )
    page2 = f'<html><body><p>again</p><img src="{u("/img/1.jpg")}" alt="  {EN} "></body></html>'  # the same pair as on page 1
    write_warc(folder / "crawl.warc.gz", [("https://site.example/p1.html", page1), ("https://other.example/p2.html", page2)])
    common = ["lake.buckets=4", "tracking.enabled=false"]
    links = recipes.load(REPO / DEFAULT_RECIPES["laion"], [f"namespace={PAGES}", f"source.path={folder}", *common])
    images = recipes.load(
        REPO / DEFAULT_THEN["laion"][0],
        [f"namespace={IMAGES}", f"source.namespace={PAGES}", "source.fetch_tasks=2", "source.fetch.read_timeout_s=2",
         "source.fetch.max_retries=0", "source.fetch.max_requests_per_s_per_host=1000", *common],
    )
    (_, first), (_, second) = run_chain([links, images], run_id="laion-1", spark=spark)
    return {"links": first, "images": second}


def stage(result, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in result.stages if s.stage == name)


def test_both_phases_account_for_every_row(spark: SparkSession, job: dict) -> None:
    links = stage(job["links"], "links")
    assert (links.rows_in, links.rows_out) == (2, 2) and "7 links (5 pass link_laion)" in links.note
    ok = spark.table(f"lake.{PAGES}.image_links").where("link_laion_ok").count()
    assert ok == 5
    for s in job["images"].stages:  # ingest (download), image_cpu, image_models, dedup_image_phash, dedup_url_text
        assert (s.stage, s.rows_in) == (s.stage, 5) and s.rows_out == 5, s
    errors = {r.source_record_id: r.ingest_error for r in spark.table(f"lake.{IMAGES}.samples").collect()}
    assert sorted(e for e in errors.values() if e) == ["http_status"]  # the 404 is a row with its reason
    assert job["images"].skipped_models["image_models"] == ("img_clip@1",)  # no CLIP weights here: skipped, said so


def test_alt_language_on_links_and_samples(spark: SparkSession, job: dict) -> None:
    langs = {r.alt: r.link_alt_lang for r in spark.table(f"lake.{PAGES}.image_links").collect()}
    assert langs[EN] == "en" and langs[FR] == "fr" and langs[None] is None
    meta = {r.caption: r.record_meta.get("link_alt_lang") for r in spark.table(f"lake.{IMAGES}.samples").collect()}
    assert meta[EN] == "en" and meta[FR] == "fr"


def test_repeated_url_and_alt_is_flagged(spark: SparkSession, job: dict) -> None:
    rows = (
        spark.table(f"lake.{IMAGES}.samples").join(spark.table(f"lake.{IMAGES}.dedup_url_text"), "sample_id")
        .where(F.col("caption") == EN).select("dup_keep", "dup_reason", "dup_cluster_size").collect()
    )
    assert sorted((r.dup_keep, r.dup_reason, r.dup_cluster_size) for r in rows) == [(False, "in_run", 2), (True, None, 2)]
    keys = spark.sql(f"SELECT count(*) FROM lake.{IMAGES}.dedup_keys WHERE key_type = 'url_text'").first()[0]
    assert keys == 4  # the kept pairs' keys, for the next crawl (the 404's pair is a pair too)


def test_curation_keeps_laion_rules_and_exports_img2dataset_shards(spark: SparkSession, job: dict, tmp_path: Path) -> None:
    res = curate(spark, LakeSettings(buckets=4), IMAGES, REPO / "conf" / "laion_curate.sql", "laion-cur-1", export_dir=tmp_path,
                 formats=(ExportFormat.WEBDATASET,), image_format=ImageFormat.JPG)
    # kept: the English and the French pair (null CLIP passes: no weights); dropped: the repeated pair,
    # the image under 5 KB, the 404
    assert res.rows == 2
    with tarfile.open(tmp_path / res.shards[0].path) as tar:
        names = sorted(tar.getnames())
        docs = [json.loads(tar.extractfile(n).read()) for n in names if n.endswith(".json")]  # type: ignore[union-attr]
        texts = sorted(tar.extractfile(n).read().decode() for n in names if n.endswith(".txt"))  # type: ignore[union-attr]
    assert sorted(n.rsplit(".", 1)[1] for n in names) == ["jpg", "jpg", "json", "json", "txt", "txt"]
    assert texts == sorted([EN, FR])
    for doc in docs:
        assert IMG2DATASET_FIELDS <= set(doc) and doc["status"] == "success" and doc["similarity"] is None
        assert doc["width"] == doc["original_width"] == 240 and len(doc["sha256"]) == 64 and doc["key"] == doc["sample_id"]
    assert {d["language"] for d in docs} == {"en", "fr"} and all(d["nsfw"] in ("NSFW", "UNLIKELY") for d in docs)

