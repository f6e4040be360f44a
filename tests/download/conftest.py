"""The downloader's HTTP server fixture: started once per module on 127.0.0.1, stopped after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import ImageServer


@pytest.fixture
def server() -> Iterator[ImageServer]:
    srv = ImageServer().start()
    try:
        yield srv
    finally:
        srv.stop()
