"""Per-host politeness inside one fetcher: at most N connections and R request starts per second per host.

Every request passes :meth:`HostGate.slot` for its host, retries and redirect hops included, so
a redirect to another host is held to that host's limits. The rate is a reservation schedule:
each start books the next free instant ``1/R`` s after the previous booking, so bursts are
spread rather than refused. Limits are per fetcher; the Spark wiring sends all links of a host to
one task, which makes them per host for the whole chunk (docs/image_text.md#downloader).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Host:
    slots: asyncio.Semaphore
    next_start: float = 0.0
    active: int = 0
    peak: int = 0


@dataclass
class HostGate:
    """Connection and rate limits per host, for one event loop."""

    max_connections_per_host: int
    max_requests_per_s: float
    _hosts: dict[str, _Host] = field(default_factory=dict)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's connection slots, entered no earlier than its rate allows."""
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(asyncio.Semaphore(self.max_connections_per_host))
        async with state.slots:
            loop = asyncio.get_running_loop()
            now = loop.time()
            start = max(now, state.next_start)
            state.next_start = start + 1.0 / self.max_requests_per_s
            if start > now:
                await asyncio.sleep(start - now)
            state.active += 1
            state.peak = max(state.peak, state.active)
            try:
                yield
            finally:
                state.active -= 1

    def peak(self, host: str) -> int:
        """Most connections the host had at once (for tests and stats)."""
        state = self._hosts.get(host)
        return state.peak if state else 0
