"""Fetch many image URLs concurrently from one process: asyncio + aiohttp, one result per link.

Why aiohttp on one event loop rather than a thread pool (img2dataset's ``ThreadPool`` of
``urllib``): one core drives hundreds of sockets without a thread each, and redirects, byte caps
and politeness are plain code between awaits. ``benchmarks/download.py`` measures it against
img2dataset on the same server and URLs (docs/image_text.md#downloader).

Every request carries the result to the end: bytes, or a :class:`FetchError` with a detail, plus
the last status, the final URL, the content type, when and how long it took. Nothing here raises
for one bad link. Redirects are followed by hand (``allow_redirects=False``) so each hop is
counted, checked for loops and held to its own host's limits. Retries (connection errors, 5xx,
429) back off exponentially and honour ``Retry-After`` up to ``retry_after_max_s``.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import aiohttp

from spark_mm.download.politeness import HostGate
from spark_mm.download.reasons import FetchError
from spark_mm.download.robots import forbidding_directive
from spark_mm.download.settings import FetchSettings

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_WINDOW_PER_CONNECTION = 8  # links taken from the input per connection slot (bounds tasks, not bytes)


@dataclass(frozen=True)
class FetchRequest:
    """One link to fetch; ``key`` is the caller's handle (a row index, a link id)."""

    key: object
    url: str | None


@dataclass
class FetchResult:
    """What one link yielded: ``image`` bytes, or ``error`` (+ ``detail``); never both."""

    key: object
    url: str | None
    image: bytes | None = None
    error: FetchError | None = None
    detail: str | None = None
    status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    fetched_at: str | None = None  # UTC ISO-8601 of the last response (or failure)
    seconds: float = 0.0  # wall time of all attempts, backoff included
    attempts: int = 0  # requests sent, redirect hops included
    redirects: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


class _Failed(Exception):
    """Internal: ends one link's fetch with a reason (never escapes this module)."""

    def __init__(self, error: FetchError, detail: str, retryable: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.error, self.detail, self.retryable, self.retry_after_s = error, detail, retryable, retry_after_s


@dataclass
class Fetcher:
    """Fetches links under one :class:`FetchSettings`; :meth:`fetch` streams results as they complete."""

    settings: FetchSettings = field(default_factory=FetchSettings)

    def fetch(self, requests: Iterable[FetchRequest]) -> Iterator[FetchResult]:
        """Every request's result, in completion order, reading ``requests`` lazily.

        Runs its own event loop in the calling thread: the loop only advances while this iterator
        is being pulled, which is how a Spark ``mapInArrow`` function consumes it.
        """
        loop = asyncio.new_event_loop()
        stream = self.stream(requests)
        try:
            while True:
                try:
                    yield loop.run_until_complete(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(stream.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def fetch_all(self, requests: Iterable[FetchRequest]) -> list[FetchResult]:
        return list(self.fetch(requests))

    async def stream(self, requests: Iterable[FetchRequest]) -> AsyncIterator[FetchResult]:
        """Async form of :meth:`fetch`: at most ``max_connections`` requests in flight."""
        s = self.settings
        gate = HostGate(s.max_connections_per_host, s.max_requests_per_s_per_host)
        connections = asyncio.Semaphore(s.max_connections)
        connector = aiohttp.TCPConnector(limit=s.max_connections, limit_per_host=0, ttl_dns_cache=300, ssl=None if s.verify_tls else False)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout_s, sock_read=s.read_timeout_s)
        headers = {"User-Agent": s.user_agent_string(), "Accept": "image/*,*/*;q=0.8"}
        window = s.max_connections * _WINDOW_PER_CONNECTION
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers, auto_decompress=True) as session:
            pending: set[asyncio.Task[FetchResult]] = set()
            it = iter(requests)
            exhausted = False
            try:
                while True:
                    while not exhausted and len(pending) < window:
                        req = next(it, None)
                        if req is None:
                            exhausted = True
                            break
                        pending.add(asyncio.ensure_future(self._one(session, gate, connections, req)))
                    if not pending:
                        return
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        yield task.result()
            finally:
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)

    async def _one(self, session: aiohttp.ClientSession, gate: HostGate, connections: asyncio.Semaphore, req: FetchRequest) -> FetchResult:
        s = self.settings
        result = FetchResult(req.key, req.url)
        started = time.monotonic()
        attempt = 0
        try:
            while True:
                try:
                    await self._chain(session, gate, connections, result)
                    break
                except _Failed as failed:
                    if not failed.retryable or attempt >= s.max_retries:
                        raise
                    attempt += 1
                    wait = min(s.backoff_max_s, s.backoff_base_s * 2 ** (attempt - 1))
                    if failed.retry_after_s is not None:
                        wait = max(wait, failed.retry_after_s)
                    await asyncio.sleep(wait)
        except _Failed as failed:
            result.image, result.error, result.detail = None, failed.error, failed.detail
        except Exception as err:  # noqa: BLE001 - one link never fails the task; the class name is the detail
            result.image, result.error, result.detail = None, FetchError.CONNECTION_ERROR, f"{type(err).__name__}: {err}"[:500]
        result.seconds = time.monotonic() - started
        result.fetched_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        return result

    async def _chain(self, session: aiohttp.ClientSession, gate: HostGate, connections: asyncio.Semaphore, result: FetchResult) -> None:
        """One attempt: follow the redirect chain from the link's URL to a body or a failure."""
        s = self.settings
        url = _check_url(result.url)
        seen = {url}
        result.redirects = 0
        while True:
            result.final_url = url
            host = urlsplit(url).hostname or ""
            async with gate.slot(host), connections:
                result.attempts += 1
                try:
                    nxt, body = await asyncio.wait_for(self._request(session, url, result), s.total_timeout_s)
                except _Failed:
                    raise
                except (TimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError) as err:
                    raise _Failed(FetchError.TIMEOUT, f"{type(err).__name__} after {result.attempts} request(s)") from err
                except aiohttp.ClientPayloadError as err:
                    raise _Failed(FetchError.TRUNCATED, f"body ended early: {err}"[:500]) from err
                except (aiohttp.ClientConnectionError, aiohttp.ClientResponseError, OSError) as err:
                    raise _Failed(FetchError.CONNECTION_ERROR, f"{type(err).__name__}: {err}"[:500], retryable=True) from err
            if body is not None:
                result.image = body
                return
            assert nxt is not None
            if nxt in seen:
                raise _Failed(FetchError.REDIRECT_LOOP, f"redirect {result.redirects + 1} goes back to {nxt}")
            result.redirects += 1
            if result.redirects > s.max_redirects:
                raise _Failed(FetchError.TOO_MANY_REDIRECTS, f"more than {s.max_redirects} redirects")
            seen.add(nxt)
            url = nxt

    async def _request(self, session: aiohttp.ClientSession, url: str, result: FetchResult) -> tuple[str | None, bytes | None]:
        """One request: (the next URL of a redirect, None) or (None, the body)."""
        async with session.get(url, allow_redirects=False) as resp:
            result.status = resp.status
            result.content_type = resp.headers.get("Content-Type")
            if resp.status in REDIRECTS and "Location" in resp.headers:
                return _check_url(urljoin(url, resp.headers["Location"]), redirect=True), None
            return None, await self._body(resp)

    async def _body(self, resp: aiohttp.ClientResponse) -> bytes:
        """The body of a final response, after the status, X-Robots-Tag, type and size checks."""
        s = self.settings
        if resp.status == 429 or resp.status >= 500:
            raise _Failed(
                FetchError.HTTP_STATUS, f"{resp.status} {resp.reason or ''}".strip(), retryable=True,
                retry_after_s=self._retry_after(resp),
            )
        if not 200 <= resp.status < 300:
            raise _Failed(FetchError.HTTP_STATUS, f"{resp.status} {resp.reason or ''}".strip())
        if s.respect_robots_tag:
            directive = forbidding_directive(resp.headers.getall("X-Robots-Tag", []), s.user_agent_token, s.robots_directives)
            if directive:
                raise _Failed(FetchError.ROBOTS_TAG, f"X-Robots-Tag {directive}")
        media = (resp.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if not media or not media.startswith(s.content_types):
            raise _Failed(FetchError.BAD_CONTENT_TYPE, f"Content-Type {media or 'missing'}")
        declared = resp.content_length
        if declared is not None and declared > s.max_bytes:
            raise _Failed(FetchError.TOO_LARGE, f"Content-Length {declared} > max_bytes {s.max_bytes}")
        parts: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > s.max_bytes:
                raise _Failed(FetchError.TOO_LARGE, f"body over max_bytes {s.max_bytes}")
            parts.append(chunk)
        body = b"".join(parts)
        encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        if declared is not None and not encoded and len(body) < declared:
            raise _Failed(FetchError.TRUNCATED, f"{len(body)} of {declared} bytes")
        if not body:
            raise _Failed(FetchError.EMPTY_BODY, f"{resp.status} with no bytes")
        return body

    def _retry_after(self, resp: aiohttp.ClientResponse) -> float | None:
        """Seconds to wait from ``Retry-After`` (delta or HTTP date); over the cap ends the retries."""
        raw = resp.headers.get("Retry-After")
        if raw is None:
            return None
        wait = parse_retry_after(raw)
        if wait is None:
            return None
        if wait > self.settings.retry_after_max_s:
            raise _Failed(FetchError.HTTP_STATUS, f"{resp.status} Retry-After {wait:.0f}s > retry_after_max_s {self.settings.retry_after_max_s:.0f}")
        return wait


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value (RFC 9110 §10.2.3: delay-seconds or an HTTP date); None if unreadable.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    10.0
    >>> parse_retry_after("soon") is None
    True
    """
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _check_url(url: str | None, redirect: bool = False) -> str:
    try:
        parts = urlsplit(url or "")
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        ok = False
    if not ok:
        what = "redirect to" if redirect else "URL"
        raise _Failed(FetchError.INVALID_URL, f"{what} {url!r} is not an absolute http(s) URL"[:500])
    return parts.geturl()  # type: ignore[possibly-undefined]
