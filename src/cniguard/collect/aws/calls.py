"""Shared per-run plumbing: boto3 clients, API call accounting, and gap recording.

Clients are created once per (account, service, region) and shared by the worker threads
(boto3 clients are thread-safe, sessions are not, hence the lock). Every session of a run shares
one botocore model loader, so each service model is parsed once, not once per account; and
responses' timestamps are parsed with the standard library, which costs a fraction of dateutil's
time (parsing is most of the collector's CPU). Every logical call, each page included, is counted
per IAM action through a botocore ``before-call`` hook, so ``inventory.meta["api_calls"]`` and
the permission meta-test see exactly what ran. Every attempt passes the run's time bounds
(:mod:`time_bounds`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp

from cniguard.collect.aws.errors import Where, gap_from_error
from cniguard.collect.aws.time_bounds import TimeBounds
from cniguard.model.inventory import Gap

T = TypeVar("T")

MAX_ATTEMPTS = 6  # botocore adaptive retry: throttling and 5xx, bounded


_LOADER = botocore.loaders.create_loader()


def fast_timestamp(value: str | float) -> dt.datetime:
    """A wire timestamp (ISO 8601 or epoch seconds) as an aware datetime, without dateutil."""
    try:
        if isinstance(value, int | float) or value.replace(".", "", 1).isdigit():
            return dt.datetime.fromtimestamp(float(value), dt.UTC)
        return dt.datetime.fromisoformat(value)  # naive without an offset, as botocore's
    except ValueError:
        return parse_timestamp(str(value))  # an unusual format: botocore's own parser


class _GivenCredentials(CredentialProvider):
    """A credential chain of one link: credentials made by the collector (an assumed role)."""

    METHOD = "assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def new_session(credentials: Credentials | None = None, **kwargs: Any) -> boto3.Session:
    """A boto3 session (``boto3.Session`` keywords) on the run's shared model loader.

    ``credentials`` replaces the session's credential chain; refreshable ones (an assumed role)
    stay refreshable, since every client of the session signs with the same object.
    """
    core = botocore.session.Session(profile=kwargs.pop("profile_name", None))
    core.register_component("data_loader", _LOADER)
    if credentials is not None:
        core.register_component(
            "credential_provider", CredentialResolver([_GivenCredentials(credentials)])
        )
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=fast_timestamp
    )
    return boto3.Session(botocore_session=core, **kwargs)


def action_of(operation_model: Any) -> str:
    """``service:Operation`` as IAM names the action (the signing name is the IAM prefix)."""
    service = operation_model.service_model
    prefix = service.signing_name or service.endpoint_prefix
    return f"{prefix}:{operation_model.name}"


class CallLog:
    """Thread-safe counts of API calls per IAM action, and the gaps found so far."""

    def __init__(self, bounds: TimeBounds | None = None) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.gaps: list[Gap] = []
        self.bounds = bounds or TimeBounds()

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
        self.home_region = home_region
        self.memo = Memo()  # reads shared by every cluster of this account
        self._config = Config(
            retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
            max_pool_connections=max(10, max_pool),
            connect_timeout=log.bounds.connect_timeout,
            read_timeout=log.bounds.call_timeout,
        )

    @property
    def session(self) -> boto3.Session:
        return self._session

    def get(self, service: str, region: str | None = None) -> Any:
        """The client of ``service`` in ``region``; other clients are created meanwhile."""
        region = region or self.home_region
        return self.memo.get(("client", service, region), partial(self.create, service, region))

    def create(self, service: str, region: str | None = None, **client_kwargs: Any) -> Any:
        """A new, unshared client, counted like the others (``client_kwargs``: credentials)."""
        with self._lock:  # the session is not thread-safe
            client = self._session.client(  # type: ignore[call-overload]
                service,
                region_name=region or self.home_region,
                config=self._config,
                **client_kwargs,
            )
        client.meta.events.register("before-call", self._log.on_call)
        self._log.bounds.register(client)
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
