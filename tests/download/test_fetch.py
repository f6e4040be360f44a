"""The fetcher against a real local HTTP server: every trap yields its reason, every link one result."""

from __future__ import annotations

import time

import pytest

from spark_mm.download.fetch import FetchRequest, Fetcher, FetchResult, parse_retry_after
from spark_mm.download.reasons import FetchError
from spark_mm.download.settings import FetchSettings

from .server import ImageServer, closed_port

FAST = dict(
    connect_timeout_s=2.0, read_timeout_s=0.6, total_timeout_s=4.0, backoff_base_s=0.05, backoff_max_s=0.2,
    max_connections_per_host=64, max_requests_per_s_per_host=10_000.0, retry_after_max_s=5.0,
)


def fetch(urls: dict[str, str], **kw: object) -> dict[str, FetchResult]:
    results = Fetcher(FetchSettings(**{**FAST, **kw})).fetch_all([FetchRequest(k, u) for k, u in urls.items()])
    assert sorted(r.key for r in results) == sorted(urls), "every link yields exactly one result"
    return {r.key: r for r in results}


def test_every_case_gets_its_reason(server: ImageServer) -> None:
    urls = {
        "jpeg": server.url("/img/1.jpg"),
        "png": server.url("/img/2.png"),
        "404": server.url("/status/404"),
        "500": server.url("/status/500"),
        "slow": server.url("/slow/3"),
        "drip": server.url("/drip"),
        "chain": server.url("/redirect/3/a"),
        "long_chain": server.url("/redirect/5/b"),
        "loop": server.url("/loop/a"),
        "lie": server.url("/lie"),
        "stream": server.url("/stream/300000"),
        "html": server.url("/type/text/html"),
        "notype": server.url("/notype"),
        "truncated": server.url("/truncated"),
        "empty": server.url("/empty"),
        "refused": f"http://127.0.0.1:{closed_port()}/img/1.jpg",
        "ftp": "ftp://example.invalid/a.jpg",
        "relative": "/img/1.jpg",
        "null": None,  # type: ignore[dict-item]
    }
    got = fetch(urls, max_redirects=4, max_bytes=200_000, max_retries=1)
    expect = {
        "404": FetchError.HTTP_STATUS, "500": FetchError.HTTP_STATUS, "slow": FetchError.TIMEOUT, "drip": FetchError.TIMEOUT,
        "long_chain": FetchError.TOO_MANY_REDIRECTS, "loop": FetchError.REDIRECT_LOOP, "lie": FetchError.TOO_LARGE,
        "stream": FetchError.TOO_LARGE, "html": FetchError.BAD_CONTENT_TYPE, "notype": FetchError.BAD_CONTENT_TYPE,
        "truncated": FetchError.TRUNCATED, "empty": FetchError.EMPTY_BODY, "refused": FetchError.CONNECTION_ERROR,
        "ftp": FetchError.INVALID_URL, "relative": FetchError.INVALID_URL, "null": FetchError.INVALID_URL,
    }
    assert {k: r.error for k, r in got.items()} == {**expect, "jpeg": None, "png": None, "chain": None}
    for key, r in got.items():
        assert (r.image is None) == (r.error is not None), key
        assert r.fetched_at and r.seconds >= 0, key
    assert got["jpeg"].image == server.state.image(1, "JPEG") and got["jpeg"].content_type == "image/jpeg"
    assert got["png"].image == server.state.image(2, "PNG") and got["png"].status == 200
    assert got["chain"].redirects == 3 and got["chain"].final_url == server.url("/redirect/0/a")
    assert got["404"].status == 404 and got["404"].detail.startswith("404")
    assert got["500"].status == 500 and got["500"].attempts == 2  # retried once
    assert server.state.hits["/status/404"] == 1  # a 4xx is not retried
    assert "Content-Length 2000000000" in got["lie"].detail
    assert got["html"].detail == "Content-Type text/html"
    # the drip server sends a byte every 0.2 s, inside the read timeout: only the total cap stops it
    assert got["drip"].seconds < 4.0 + 2.0


def test_retries_5xx_and_429_with_retry_after(server: ImageServer) -> None:
    started = time.monotonic()
    got = fetch(
        {"503": server.url("/flaky/503/2/x"), "429": server.url("/flaky/429/1/y?after=1"), "429x": server.url("/flaky/429/5/z?after=1")},
        max_retries=2,
    )
    assert got["503"].ok and got["503"].attempts == 3
    assert got["429"].ok and got["429"].attempts == 2
    assert got["429x"].error is FetchError.HTTP_STATUS and got["429x"].status == 429 and got["429x"].attempts == 3
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was waited for


def test_retry_after_over_the_cap_is_not_waited_for(server: ImageServer) -> None:
    started = time.monotonic()
    got = fetch({"x": server.url("/flaky/429/1/w?after=3600")}, max_retries=3)
    assert got["x"].error is FetchError.HTTP_STATUS and "Retry-After 3600s" in got["x"].detail and got["x"].attempts == 1
    assert time.monotonic() - started < 3


def test_connection_errors_are_retried_with_backoff(server: ImageServer) -> None:
    got = fetch({"x": f"http://127.0.0.1:{closed_port()}/a"}, max_retries=2, backoff_base_s=0.1)
    assert got["x"].error is FetchError.CONNECTION_ERROR and got["x"].attempts == 3
    assert got["x"].seconds >= 0.1 + 0.2


@pytest.mark.parametrize("value", ["noai", "noimageai", "noindex", "noimageindex", "NoIndex, nofollow", "spark-mm: noai", "Spark-MM : noimageai"])
def test_robots_tag_directives_refuse_the_image(server: ImageServer, value: str) -> None:
    got = fetch({"x": server.url(f"/robots?v={value}")})
    assert got["x"].error is FetchError.ROBOTS_TAG and got["x"].image is None


@pytest.mark.parametrize("values", [["otherbot: noai"], ["nofollow"], ["unavailable_after: 25 Jun 2010 15:00:00 PST"], []])
def test_robots_tag_values_that_do_not_apply(server: ImageServer, values: list[str]) -> None:
    query = "&".join(f"v={v}" for v in values)
    assert fetch({"x": server.url(f"/robots?{query}")})["x"].ok


def test_robots_tag_in_a_second_header_and_the_off_switch(server: ImageServer) -> None:
    url = server.url("/robots?v=nofollow&v=noai")
    assert fetch({"x": url})["x"].error is FetchError.ROBOTS_TAG
    assert fetch({"x": url}, respect_robots_tag=False)["x"].ok


def test_content_types_setting_and_user_agent(server: ImageServer) -> None:
    url = server.url("/type/application/octet-stream")
    assert fetch({"x": url})["x"].error is FetchError.BAD_CONTENT_TYPE
    assert fetch({"x": url}, content_types=("image/", "application/octet-stream"), user_agent_url="https://example.org/bot")["x"].ok
    assert any("(compatible; spark-mm/" in ua and "+https://example.org/bot)" in ua for ua in server.state.user_agents)


def test_per_host_politeness_is_observed_by_the_server(server: ImageServer) -> None:
    urls = {f"a{i}": server.url(f"/hold/{i}") for i in range(12)} | {f"b{i}": server.url(f"/hold/{i}", host="localhost") for i in range(12)}
    started = time.monotonic()
    got = fetch(urls, max_connections_per_host=2, max_connections=32)
    assert all(r.ok for r in got.values())
    assert server.state.peak["127.0.0.1"] == 2 and server.state.peak["localhost"] == 2
    assert time.monotonic() - started >= 6 * 0.15  # 12 requests, 2 at a time, 0.15 s each


def test_per_host_request_rate(server: ImageServer) -> None:
    started = time.monotonic()
    got = fetch({i: server.url(f"/img/{i}.jpg") for i in range(6)}, max_requests_per_s_per_host=10.0)
    assert all(r.ok for r in got.values())
    assert time.monotonic() - started >= 0.5  # 6 starts at 10/s: the last one at >= 0.5 s


def test_many_links_stream_lazily(server: ImageServer) -> None:
    taken = 0

    def links():  # type: ignore[no-untyped-def]
        nonlocal taken
        for i in range(300):
            taken += 1
            yield FetchRequest(i, server.url(f"/img/{i % 20}.jpg"))

    it = Fetcher(FetchSettings(**{**FAST, "max_connections": 4})).fetch(links())
    first = next(it)
    assert first.ok and taken < 300  # the input is read a window at a time
    rest = list(it)
    assert len(rest) == 299 and all(r.ok for r in rest)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("-1") is None
