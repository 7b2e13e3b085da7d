"""Running the app under uvicorn with hard limits, so that abuse cannot exhaust the server.

uvicorn bounds the size of request headers (``h11_max_incomplete_event_size``) and the idle time
between requests (``timeout_keep_alive``), but not how long a client may take to send its first
request, nor how many sockets stay open: thousands of half-open connections held every file
descriptor, and each failed ``accept()`` then logged a traceback. Here:

- a connection with no request in flight ``header_timeout`` after it opened or after its last
  response (its request headers still incomplete, or idle) is closed;
- past ``max_connections`` open sockets, the longest-idle one (no request in flight) is closed to
  make room, or the new one when every socket is busy;
- each logger repeats one message at most ``LOG_BURST`` times a minute, without a traceback after
  the first: the log cannot grow faster than a few kilobytes a minute under a flood.

An exposed deployment still belongs behind a reverse proxy (TLS, rate limits): see
docs/history-and-dashboard.md.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

LOG_BURST = 5
LOG_PERIOD = 60.0
MAX_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True)
class Limits:
    max_connections: int = 200
    header_timeout: float = 10.0
    keep_alive: int = 5


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request headers and a cap on open sockets."""

    limits = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.opened_at = time.monotonic()
        self.header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_due)
        live = [c for c in self.connections if not c.transport.is_closing()]
        if len(live) > self.limits.max_connections:
            self._make_room(live)

    def _idle(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _make_room(self, live: list[Any]) -> None:
        idle = [
            c for c in live if isinstance(c, BoundedH11Protocol) and c is not self and c._idle()
        ]
        victim = min(idle, key=lambda c: c.opened_at) if idle else self
        victim.transport.close()

    def _headers_due(self) -> None:
        """Close the connection when no request is in flight: its headers never came in time."""
        if self._idle() and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        """The next request's headers are due within the same time as the first's."""
        super().on_response_complete()
        self.header_timer.cancel()
        self.header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_due)

    def connection_lost(self, exc: Exception | None) -> None:
        self.header_timer.cancel()
        super().connection_lost(exc)


class RepeatLimit(logging.Filter):
    """At most ``burst`` records of one message per ``period`` seconds; repeats lose tracebacks."""

    def __init__(self, burst: int = LOG_BURST, period: float = LOG_PERIOD) -> None:
        super().__init__()
        self.burst = burst
        self.period = period
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            start, count = self._seen.get(key, (now, 0))
            if now - start > self.period:
                start, count = now, 0
            count += 1
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[key] = (start, count)
        if count > 1:
            record.exc_info = None
            record.exc_text = None
        return count <= self.burst


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's logging with the repeat limit on every handler (asyncio's accept errors too)."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "stream": "ext://sys.stderr",
        "filters": ["repeat"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"repeat": {"()": RepeatLimit}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"default": handler},
        "loggers": {
            name: {"handlers": ["default"], "level": level.upper(), "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio", "cniguard")
        },
    }


def bounded_config(app: Any, host: str, port: int, limits: Limits, level: str = "info") -> Config:
    """The uvicorn configuration ``cniguard serve`` runs: every limit above applied."""
    protocol = type("ServeProtocol", (BoundedH11Protocol,), {"limits": limits})
    return Config(
        app,
        host=host,
        port=port,
        http=protocol,
        limit_concurrency=limits.max_connections * 2,  # eviction bounds sockets; this, tasks
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        backlog=min(2048, limits.max_connections * 2),
        log_config=log_config(level),
        server_header=False,
        proxy_headers=False,
    )
