"""The ``links:`` step in a real job on a generated WARC + WAT: every page accounted for, link rows
equal to the pages' link counts, lineage on both commits, and retries that append nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_mm import recipe as recipes
from spark_mm.engine.runner import Runner

NS = "links_it"
PAGE_A = """<html><head><base href="https://static.a.example/img/"></head><body>
<img src="cat.jpg" alt="a tabby cat asleep"><img src="/logo.svg" alt="Logo of A">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="spacer"><img src="px.png" width="1" height="1" alt="tracking pixel">
<img src="dog.jpg"><img src="fox.jpg" alt="fox"><p><img src='ok.webp' alt="a red fox in snow"</body>"""
PAGE_B = "<html><body><p>no images here</p></body></html>"


def _wat_payload(target: str, links: list[dict] | None) -> bytes:
    meta: dict = {"HTTP-Response-Metadata": {"HTML-Metadata": {"Links": links}}} if links is not None else {"HTTP-Request-Metadata": {}}
    return json.dumps({"Envelope": {"WARC-Header-Metadata": {"WARC-Target-URI": target}, "Payload-Metadata": meta}}).encode()


def write_crawl(folder: Path, name: str, pages: list[tuple[str, str]]) -> None:
    """``<name>.warc.gz`` (request + response per page, one PNG response) and ``<name>.warc.wat.gz`` (its WAT)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(folder / f"{name}.warc.gz", "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(w.create_warcinfo_record(name, {"software": "test"}))
        for url, body in pages:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"), length=18))
            data = body.encode()
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(data), length=len(data), http_headers=http))
        png = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(f"https://{name}.example/i.png", "response", payload=io.BytesIO(b"\x89PNG\r\n"), length=6, http_headers=png))
    with open(folder / f"{name}.warc.wat.gz", "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for url, _ in pages:
            for links in (None, [{"path": "IMG@/src", "url": "/w.jpg", "alt": "a wat image link"}, {"path": "A@/href", "url": "/"}]):
                payload = _wat_payload(url, links)
                w.write_record(w.create_warc_record(url, "metadata", payload=io.BytesIO(payload), length=len(payload),
                                                    warc_content_type="application/json"))


def recipe(path: Path) -> recipes.LoadedRecipe:
    return recipes.from_mapping(
        {
            "job": "links",
            "namespace": NS,
            "source": {"type": "warc", "path": str(path), "record_types": ["response", "metadata"]},
            "links": {},
            "lake": {"buckets": 4},
            "tracking": {"enabled": False},
        }
    )


def counts(spark: SparkSession) -> tuple[int, int, int]:
    t = f"lake.{NS}"
    return spark.table(f"{t}.samples").count(), spark.table(f"{t}.signals_links").count(), spark.table(f"{t}.image_links").count()


@pytest.fixture(scope="module")
def crawl(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("links_crawl")
    write_crawl(folder, "c1", [("https://a.example/p/1.html", PAGE_A), ("https://b.example/", PAGE_B)])
    loaded = recipe(folder)
    first = Runner(loaded, run_id="links-1", spark=spark).run()
    return {"folder": folder, "loaded": loaded, "first": first, "after_first": counts(spark)}


def test_every_page_and_link_accounted_for(spark: SparkSession, crawl: dict) -> None:
    samples, pages, links = crawl["after_first"]
    # 3 responses + 4 WAT metadata records; request/warcinfo records are skipped at ingest
    assert samples == pages == 7
    sig = spark.table(f"lake.{NS}.signals_links")
    assert sig.agg(F.sum("link_count")).first()[0] == links == 7 + 2  # page A's 7 <img>, one per WAT page
    reasons = {r[0]: r[1] for r in sig.groupBy("link_extract_reason").count().collect()}
    assert reasons == {None: 4, "unsupported_mime": 1, "wat_not_a_page": 2}
    res = next(s for s in crawl["first"].stages if s.stage == "links")
    assert (res.rows_in, res.rows_out) == (7, 7) and "9 links" in res.note


def test_link_rows_and_filters(spark: SparkSession) -> None:
    rows = spark.table(f"lake.{NS}.image_links").where(F.col("link_source") == "html").orderBy("position").collect()
    got = [(r.position, r.url, r.link_laion_reason) for r in rows]
    assert got == [
        (0, "https://static.a.example/img/cat.jpg", None),
        (1, "https://static.a.example/logo.svg", "blocked_extension"),
        (2, "data:image/gif;base64,", "data_uri"),
        (3, "https://static.a.example/img/px.png", "tracking_pixel"),
        (4, "https://static.a.example/img/dog.jpg", "no_alt"),
        (5, "https://static.a.example/img/fox.jpg", "alt_too_short"),
        (6, "https://static.a.example/img/ok.webp", None),
    ]
    assert {r.page_url for r in rows} == {"https://a.example/p/1.html"} and len({r.link_id for r in rows}) == 7
    samples = spark.table(f"lake.{NS}.samples").select("sample_id", "url", F.col("record_meta")["WARC-Type"].alias("t"))
    parent = samples.join(spark.table(f"lake.{NS}.image_links").select("sample_id").distinct(), "sample_id", "left_semi").collect()
    assert sorted(r.t for r in parent) == ["metadata", "metadata", "response"]
    wat = spark.table(f"lake.{NS}.image_links").where(F.col("link_source") == "wat").collect()
    assert sorted(r.url for r in wat) == ["https://a.example/w.jpg", "https://b.example/w.jpg"] and all(r.link_laion_ok for r in wat)


def test_lineage_on_both_commits(spark: SparkSession) -> None:
    from spark_mm.lake.settings import LakeSettings
    from spark_mm.lake.tables import Lake

    lake = Lake(spark, LakeSettings(buckets=4), NS)
    samples_snap = lake.commits("samples")[0].snapshot_id
    for table in ("image_links", "signals_links"):
        s = lake.commits(table)[0].summary
        assert (s["spark-mm.run-id"], s["spark-mm.stage"], s["spark-mm.ops"], s["spark-mm.job"]) == ("links-1", "links", "img_links@2", "links")
        assert s["spark-mm.input"] == f"lake.{NS}.samples@{samples_snap}" and s["spark-mm.recipe-sha256"]


def test_retries_append_nothing(spark: SparkSession, crawl: dict) -> None:
    snaps = lambda t: spark.sql(f"SELECT count(*) FROM lake.{NS}.{t}.snapshots").first()[0]  # noqa: E731
    before = (snaps("image_links"), snaps("signals_links"))
    again = Runner(crawl["loaded"], run_id="links-1", spark=spark).run()
    assert next(s for s in again.stages if s.stage == "links").skipped
    Runner(crawl["loaded"], run_id="links-2", spark=spark).run()
    assert counts(spark) == crawl["after_first"]
    assert snaps("image_links") == before[0]  # no links to write: no commit at all


def test_interrupted_run_does_not_duplicate_links(spark: SparkSession, crawl: dict) -> None:
    # a run that published its links but died before its signals_links commit: drop one page's row
    page = spark.table(f"lake.{NS}.image_links").where(F.col("link_source") == "html").first().sample_id
    spark.sql(f"DELETE FROM lake.{NS}.signals_links WHERE sample_id = '{page}'")
    res = next(s for s in Runner(crawl["loaded"], run_id="links-3", spark=spark).run().stages if s.stage == "links")
    assert (res.rows_in, res.rows_out) == (1, 1) and "7 links of pages already in" in res.note
    assert counts(spark) == crawl["after_first"]


def test_new_crawl_adds_only_its_pages(spark: SparkSession, crawl: dict) -> None:
    write_crawl(crawl["folder"], "c2", [("https://c.example/", "<img src='x.jpg' alt='a new image link'>")])
    res = next(s for s in Runner(crawl["loaded"], run_id="links-4", spark=spark).run().stages if s.stage == "links")
    samples, pages, links = counts(spark)
    assert (res.rows_in, samples, pages, links) == (4, 11, 11, 9 + 2)
