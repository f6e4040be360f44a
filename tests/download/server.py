"""A real HTTP server on 127.0.0.1 for the downloader tests and benchmark: photos, errors, traps.

Routes (query strings are ignored except where noted):

- ``/img/<n>.jpg``, ``/img/<n>.png``: a real photo-like image made with Pillow (``n`` seeds it)
- ``/photo/<n>.jpg``: photo ``n % len(photos)`` of ``State.photos`` (the benchmark loads real photos there)
- ``/status/<code>``: that status with a small text body
- ``/flaky/<code>/<k>/<id>``: ``code`` (500, 429, ...) for the first ``k`` requests of ``id``, then a JPEG;
  429s carry ``Retry-After: <after>`` (query ``after``, default 1)
- ``/slow/<seconds>``: waits before sending headers
- ``/drip``: headers, then one byte every 0.2 s for ever (until the client leaves)
- ``/redirect/<n>/<id>``: ``n`` 302 hops ending at a JPEG; ``/loop/a`` ↔ ``/loop/b``
- ``/lie``: ``Content-Length: 2000000000`` and a 1 KiB body
- ``/stream/<bytes>``: an image/jpeg body of that size without Content-Length (close-delimited)
- ``/truncated``: ``Content-Length: 10000``, 100 bytes, then the connection closes
- ``/type/<a>/<b>``: a JPEG body served as ``<a>/<b>``; ``/notype``: no Content-Type
- ``/robots?v=<value>[&v=...]``: a JPEG with one ``X-Robots-Tag`` header per ``v``
- ``/empty``: 200 image/jpeg with no body
- ``/hold/<id>``: a JPEG after 0.15 s (to observe concurrency)

The server counts requests per path and the peak number of requests in flight per Host header.
"""

from __future__ import annotations

import io
import random
import socket
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def make_image(n: int, fmt: str = "JPEG", size: tuple[int, int] = (48, 32)) -> bytes:
    """A small photo-like image (gradient plus noise) in ``fmt``, different for each ``n``."""
    from PIL import Image

    rng = random.Random(n)
    w, h = size
    img = Image.new("RGB", size)
    px = img.load()
    base = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    for y in range(h):
        for x in range(w):
            px[x, y] = ((base[0] + 4 * x) % 256, (base[1] + 5 * y) % 256, (base[2] + rng.randrange(32)) % 256)
    buf = io.BytesIO()
    img.save(buf, fmt, quality=85) if fmt == "JPEG" else img.save(buf, fmt)
    return buf.getvalue()


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.images: dict[tuple[int, str], bytes] = {}
        self.photos: list[bytes] = []  # JPEG bytes served by /photo/<n>.jpg

    def image(self, n: int, fmt: str) -> bytes:
        with self.lock:
            if (n, fmt) not in self.images:
                self.images[(n, fmt)] = make_image(n, fmt)
            return self.images[(n, fmt)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "ImageServer"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        st = self.server.state
        parts = urlsplit(self.path)
        host = (self.headers.get("Host") or "").split(":")[0]
        with st.lock:
            st.hits[parts.path] += 1
            n = st.hits[parts.path]
            st.active[host] += 1
            st.peak[host] = max(st.peak[host], st.active[host])
            st.user_agents.add(self.headers.get("User-Agent", ""))
        try:
            self.route(parts.path.strip("/").split("/"), parse_qs(parts.query), n)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with st.lock:
                st.active[host] -= 1

    def send(self, status: int, body: bytes, ctype: str | None = "image/jpeg", headers: dict[str, str] | None = None, length: int | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def route(self, p: list[str], q: dict[str, list[str]], n: int) -> None:
        st = self.server.state
        jpeg = st.image(0, "JPEG")
        head = p[0]
        if head == "img":
            num, ext = p[1].split(".")
            fmt = "PNG" if ext == "png" else "JPEG"
            self.send(200, st.image(int(num), fmt), "image/png" if fmt == "PNG" else "image/jpeg")
        elif head == "photo":
            self.send(200, st.photos[int(p[1].split(".")[0]) % len(st.photos)])
        elif head == "status":
            self.send(int(p[1]), b"status page", "text/plain")
        elif head == "flaky":
            code, k = int(p[1]), int(p[2])
            if n <= k:
                extra = {"Retry-After": q.get("after", ["1"])[0]} if code == 429 else {}
                self.send(code, b"try again", "text/plain", extra)
            else:
                self.send(200, jpeg)
        elif head == "slow":
            time.sleep(float(p[1]))
            self.send(200, jpeg)
        elif head == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
            self.close_connection = True
        elif head == "redirect":
            hops = int(p[1])
            if hops == 0:
                self.send(200, jpeg)
            else:
                self.send(302, b"", None, {"Location": f"/redirect/{hops - 1}/{p[2]}"})
        elif head == "loop":
            self.send(302, b"", None, {"Location": "/loop/b" if p[1] == "a" else "/loop/a"})
        elif head == "lie":
            self.send(200, b"\xff" * 1024, length=2_000_000_000)
            self.close_connection = True
        elif head == "stream":
            size = int(p[1])
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")
            self.end_headers()
            sent = 0
            while sent < size:
                part = min(65536, size - sent)
                self.wfile.write(b"\x00" * part)
                sent += part
            self.close_connection = True
        elif head == "truncated":
            self.send(200, jpeg[:100], length=10_000)
            self.close_connection = True
        elif head == "type":
            self.send(200, jpeg, f"{p[1]}/{p[2]}")
        elif head == "notype":
            self.send(200, jpeg, None)
        elif head == "robots":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            for v in q.get("v", []):
                self.send_header("X-Robots-Tag", v)
            self.send_header("Content-Length", str(len(jpeg)))
            self.end_headers()
            self.wfile.write(jpeg)
        elif head == "empty":
            self.send(200, b"")
        elif head == "hold":
            time.sleep(0.15)
            self.send(200, st.image(int(p[1]) % 7, "JPEG"))
        else:
            self.send(404, b"no such route", "text/plain")


class ImageServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # socketserver's 5 drops SYNs under a burst of new connections (1 s retransmits)

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: State | None = None) -> None:
        """Listen on ``host:port`` (0: any free port); servers given one ``state`` share counts and images
        (the benchmark listens on 127.0.0.1 … 127.0.0.8 with one port, one host alias each)."""
        super().__init__((host, port), Handler)
        self.state = state or State()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str | None = None) -> str:
        host = host or str(self.server_address[0])
        return f"http://{host}:{self.port}/{path.lstrip('/')}"

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):  # the client left (a timeout, a kill)
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def start(self) -> "ImageServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=5)


def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
