"""Shared per-run plumbing: boto3 clients, API call accounting, and gap recording.

Clients are created once per (account, service, region) and shared by the worker threads
(boto3 clients are thread-safe, sessions are not, hence the lock). Every logical call, each page
included, is counted per IAM action through a botocore ``before-call`` hook, so
``inventory.meta["api_calls"]`` and the permission meta-test see exactly what ran.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cniguard.collect.aws.errors import Where, gap_from_error
from cniguard.model.inventory import Gap

T = TypeVar("T")

MAX_ATTEMPTS = 6  # botocore adaptive retry: throttling and 5xx, bounded


def action_of(operation_model: Any) -> str:
    """``service:Operation`` as IAM names the action (the signing name is the IAM prefix)."""
    service = operation_model.service_model
    prefix = service.signing_name or service.endpoint_prefix
    return f"{prefix}:{operation_model.name}"


class CallLog:
    """Thread-safe counts of API calls per IAM action, and the gaps found so far."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.gaps: list[Gap] = []

    def on_call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[action_of(model)] += 1

    def add_gap(self, gap: Gap) -> None:
        with self._lock:
            self.gaps.append(gap)

    def attempt(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        operation: str,
        where: Where,
        resource: str | None = None,
    ) -> T | None:
        """Run one read; on failure record a gap for exactly ``where`` and return None."""
        try:
            return fn()
        except (ClientError, BotoCoreError) as exc:
            self.add_gap(
                gap_from_error(exc, what=what, operation=operation, where=where, resource=resource)
            )
            return None


class Clients:
    """The boto3 clients of one account, one per (service, region), shared across threads."""

    def __init__(
        self, session: boto3.Session, log: CallLog, *, max_pool: int, home_region: str
    ) -> None:
        self._session = session
        self._log = log
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self.home_region = home_region
        self.memo = Memo()  # reads shared by every cluster of this account
        self._config = Config(
            retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
            max_pool_connections=max(10, max_pool),
            connect_timeout=10,
            read_timeout=60,
        )

    @property
    def session(self) -> boto3.Session:
        return self._session

    def get(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.home_region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._session.client(  # type: ignore[call-overload]
                    service, region_name=key[1], config=self._config
                )
                client.meta.events.register("before-call", self._log.on_call)
                self._clients[key] = client
        return client


class Memo:
    """Compute each key once per run, whichever thread asks first; later askers wait for it.

    A waiter only ever waits for a computation already running in another worker, never for a
    queued task, so sharing (an IAM role read once for all clusters) cannot deadlock the pool.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[object, Future[Any]] = {}

    def get(self, key: object, compute: Callable[[], T]) -> T:
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._futures[key] = future
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
        result: T = future.result()
        return result
