"""Time bounds of a live scan: a timeout per call, a timeout budget per endpoint, a deadline.

An endpoint that accepts connections and never answers would otherwise hold each call for its
read timeout times botocore's attempts, wave after wave of dependent calls. Here every attempt
of every client passes :meth:`TimeBounds.before_send`: past the run's deadline, or once its
endpoint has timed out :data:`ENDPOINT_TIMEOUTS` times, the attempt is not sent and fails at once
with an error that becomes a gap naming the call and its scope (fail closed: not read).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ConnectTimeoutError, ReadTimeoutError

ENDPOINT_TIMEOUTS = 3  # timed-out attempts after which an endpoint is not called again
CONNECT_TIMEOUT = 10.0
DEFAULT_CALL_TIMEOUT = 30.0  # seconds to wait for a response (botocore's default is 60)
DEFAULT_DEADLINE = 15 * 60.0


class DeadlinePassed(BotoCoreError):
    fmt = "the scan's --deadline of {deadline} passed before this was read"


class EndpointUnresponsive(BotoCoreError):
    fmt = "{host} timed out {count} times in this scan: not called again"

    def __init__(self, host: str) -> None:
        super().__init__(host=host, count=ENDPOINT_TIMEOUTS)


def seconds_text(seconds: float) -> str:
    """``90`` -> ``1m30s``: how the deadline is shown in gaps."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


class TimeBounds:
    """Shared by every client of one run (thread-safe)."""

    def __init__(
        self, *, deadline: float | None = None, call_timeout: float = DEFAULT_CALL_TIMEOUT
    ) -> None:
        self.call_timeout = call_timeout
        self.deadline_seconds = deadline
        self._ends = None if deadline is None else time.monotonic() + deadline
        self._lock = threading.Lock()
        self._timeouts: Counter[str] = Counter()

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative); None without a deadline."""
        return None if self._ends is None else max(0.0, self._ends - time.monotonic())

    @property
    def connect_timeout(self) -> float:
        return min(CONNECT_TIMEOUT, self.call_timeout)

    def grace(self) -> float:
        """How long an attempt already sent can still take: its connect and read timeouts."""
        return self.connect_timeout + self.call_timeout

    def expired(self) -> bool:
        return self.remaining() == 0.0

    def register(self, client: Any) -> None:
        client.meta.events.register("before-send", self.before_send)
        client.meta.events.register("needs-retry", self.on_attempt_done)

    def before_send(self, request: Any, **_: Any) -> None:
        """Refuse an attempt past the deadline or to an endpoint out of its timeout budget."""
        if self.expired():
            raise DeadlinePassed(deadline=seconds_text(self.deadline_seconds or 0))
        host = urlsplit(request.url).netloc
        with self._lock:
            count = self._timeouts[host]
        if count >= ENDPOINT_TIMEOUTS:
            raise EndpointUnresponsive(host)

    def on_attempt_done(self, caught_exception: Exception | None = None, **kwargs: Any) -> None:
        """Count a timed-out attempt against its endpoint (returns None: retries unchanged)."""
        if isinstance(caught_exception, ConnectTimeoutError | ReadTimeoutError):
            endpoint = kwargs.get("endpoint")
            host = urlsplit(str(getattr(endpoint, "host", ""))).netloc
            with self._lock:
                self._timeouts[host] += 1
