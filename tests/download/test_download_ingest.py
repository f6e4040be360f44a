"""The download ingest on real Spark + Iceberg against a local HTTP server: accounting, identity, resume."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pyspark.sql import SparkSession

from spark_mm.download.batches import VOLATILE_META
from spark_mm.download.settings import FetchSettings
from spark_mm.engine.download import ingest_image_links
from spark_mm.errors import SourceError
from spark_mm.lake.lineage import PREFIX
from spark_mm.lake.tables import Lake
from spark_mm.sources.ids import link_sample_id
from spark_mm.sources.specs import ImageLinksSource

from .links import context, link, samples, write_links
from .server import ImageServer

FETCH = FetchSettings(
    connect_timeout_s=2.0, read_timeout_s=0.6, total_timeout_s=4.0, backoff_base_s=0.05, max_retries=1,
    max_connections_per_host=16, max_requests_per_s_per_host=1000.0,
)


def spec(namespace: str, **kw: Any) -> ImageLinksSource:
    return ImageLinksSource(type="image_links", namespace=namespace, fetch=FETCH, fetch_tasks=2, **kw)


def content(spark: SparkSession, namespace: str) -> list[tuple[Any, ...]]:
    """Every row's content, run ids and fetch timings left out, sorted: equal for equal downloads."""
    rows = samples(spark, namespace).collect()
    out = []
    for r in rows:
        meta = tuple(sorted((k, v) for k, v in (r.record_meta or {}).items() if k not in VOLATILE_META))
        out.append((r.sample_id, r.source_uri, r.source_record_id, r.url, r.caption, bytes(r.image) if r.image else None, r.mime_type, r.ingest_error, meta))
    return sorted(out)


def test_every_link_is_one_sample_with_its_reason(spark: SparkSession, server: ImageServer) -> None:
    links = [
        link("l-jpg", server.url("/img/1.jpg"), alt="a red thing", position=0),
        link("l-png", server.url("/img/2.png"), position=1),
        link("l-404", server.url("/status/404"), position=2),
        link("l-slow", server.url("/slow/3"), position=3),
        link("l-loop", server.url("/loop/a"), position=4),
        link("l-lie", server.url("/lie"), position=5),
        link("l-html", server.url("/type/text/html"), position=6),
        link("l-robots", server.url("/robots?v=noai"), position=7),
        link("l-trunc", server.url("/truncated"), position=8),
        link("l-bad", "not a url", position=9),
        link("l-filtered", server.url("/img/3.jpg"), ok=False, position=10),  # the where clause drops it
        link(None, server.url("/img/4.jpg"), position=11),  # no link id: counted, skipped
        link("l-jpg", server.url("/img/1.jpg"), alt="a red thing", position=0),  # the same link twice
    ]
    write_links(spark, "dl_accounting", links)
    ctx = context(spark, "dl_accounting", "dl-acc-1")
    result = ingest_image_links(ctx, spec("dl_accounting", where="laion_alt_ok"), allow_all_errors=False)
    rows = {r.source_record_id: r for r in samples(spark, "dl_accounting").collect()}
    assert {k: r.ingest_error for k, r in rows.items()} == {
        "l-jpg": None, "l-png": None, "l-404": "http_status", "l-slow": "timeout", "l-loop": "redirect_loop",
        "l-lie": "too_large", "l-html": "bad_content_type", "l-robots": "robots_tag", "l-trunc": "truncated", "l-bad": "invalid_url",
    }
    assert result.rows_in == 10 and result.rows_out == 10 and result.rows_with_errors == 8
    assert "1 links with null link_id skipped" in result.note and "1 repeated link_ids read once" in result.note
    assert "fetched: ok=2" in result.note
    jpg = rows["l-jpg"]
    assert jpg.sample_id == link_sample_id("l-jpg") and bytes(jpg.image) == server.state.image(1, "JPEG")
    assert jpg.caption == "a red thing" and jpg.url == server.url("/img/1.jpg") and jpg.mime_type == "image/jpeg"
    assert jpg.source_uri == "iceberg:lake.dl_accounting.image_links"
    meta = jpg.record_meta
    assert meta["link_id"] == "l-jpg" and meta["page_sample_id"] == "page1" and meta["page_url"] == "https://site.example/page1.html"
    assert meta["http_status"] == "200" and meta["final_url"] == server.url("/img/1.jpg") and meta["content_type"] == "image/jpeg"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", meta["fetch_time"])
    assert rows["l-404"].record_meta["http_status"] == "404" and rows["l-404"].image is None
    assert rows["l-robots"].record_meta["fetch_detail"] == "X-Robots-Tag noai"
    commit = ctx.lake.find_commit("samples", "dl-acc-1", "ingest")
    assert commit and commit.summary[f"{PREFIX}input"].startswith("lake.dl_accounting.image_links@") and commit.summary[f"{PREFIX}ops"] == "fetch@1"

    hits = sum(server.state.hits.values())
    again = ingest_image_links(context(spark, "dl_accounting", "dl-acc-2"), spec("dl_accounting", where="laion_alt_ok"))
    assert again.rows_out == 0 and sum(server.state.hits.values()) == hits  # nothing fetched, nothing appended
    assert samples(spark, "dl_accounting").count() == 10


def test_bad_source_settings_fail_before_any_fetch(spark: SparkSession, server: ImageServer) -> None:
    write_links(spark, "dl_bad", [link("a", server.url("/img/1.jpg"))])
    ctx = context(spark, "dl_bad", "dl-bad-1")
    with pytest.raises(SourceError, match=r"source.where 'no_such_col' does not apply"):
        ingest_image_links(ctx, spec("dl_bad", where="no_such_col"))
    with pytest.raises(SourceError, match=r"source.table: lake.dl_bad.nope does not exist"):
        ingest_image_links(ctx, spec("dl_bad", table="nope"))
    assert sum(server.state.hits.values()) == 0


class Killed(Exception):
    """Stands for the process dying after chunk 2 was fetched and staged, before it was published."""


def test_killed_after_the_first_chunk_resumes_without_refetching(spark: SparkSession, server: ImageServer, monkeypatch: pytest.MonkeyPatch) -> None:
    links = [link(f"k{i:02d}", server.url(f"/img/{i}.jpg"), alt=f"image {i}", page=f"p{i % 3}", position=i) for i in range(24)]
    links += [link("k-404", server.url("/status/404"), position=99)]
    write_links(spark, "dl_links", links)
    source = spec("dl_links", chunk_links=9)  # 25 links → 3 chunks

    real_append = Lake.append
    calls = {"n": 0}

    def dying_append(self: Lake, name: str, frame: Any, lineage: Any, audit: Any = None, extra: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            def die(added: Any) -> None:
                raise Killed("killed after staging chunk 2")
            return real_append(self, name, frame, lineage, audit=die, extra=extra)
        return real_append(self, name, frame, lineage, audit=audit, extra=extra)

    monkeypatch.setattr(Lake, "append", dying_append)
    ctx = context(spark, "dl_resume", "dl-resume-1")
    with pytest.raises(Killed):
        ingest_image_links(ctx, source)
    monkeypatch.setattr(Lake, "append", real_append)
    first = {r.sample_id for r in samples(spark, "dl_resume").select("sample_id").collect()}
    assert 0 < len(first) < 25
    hits_after_kill = dict(server.state.hits)

    resumed = ingest_image_links(context(spark, "dl_resume", "dl-resume-1"), source)
    assert resumed.rows_out == 25 and "committed by this run before it resumed" in resumed.note
    committed_paths = {r.url.split(str(server.port), 1)[1] for r in samples(spark, "dl_resume").collect() if r.sample_id in first}
    for path in committed_paths:
        assert server.state.hits[path] == 1, f"{path} was fetched again after its chunk was committed"
    refetched = {p for p, n in server.state.hits.items() if n > hits_after_kill.get(p, 0)}
    assert refetched and not refetched & committed_paths

    labels = [c.summary[f"{PREFIX}chunk"] for c in ctx.lake.commits("samples")]
    assert len(labels) == len(set(labels)) and labels[0].startswith("1/")

    ingest_image_links(context(spark, "dl_clean", "dl-clean-1"), source)
    assert content(spark, "dl_resume") == content(spark, "dl_clean")
    table = samples(spark, "dl_resume")
    assert table.count() == table.select("sample_id").distinct().count() == 25

    retry = ingest_image_links(context(spark, "dl_resume", "dl-resume-1"), source)
    assert retry.rows_out == 25 and retry.skipped and samples(spark, "dl_resume").count() == 25  # a retry appends nothing
