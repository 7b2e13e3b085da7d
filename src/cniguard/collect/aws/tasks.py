"""A bounded pool of read tasks that may spawn follow-up tasks, and a wait for all of them.

Follow-ups are submitted, never awaited, by the task that discovers them (list -> describe ->
policy), so no worker blocks on another and the pool cannot deadlock; independent chains run side
by side, which keeps wall time near the longest dependency chain. A task that raises something
other than an AWS error (a bug, an unexpected response shape) becomes a gap on its own scope: it
never stops the other tasks and never leaves a pass behind.

Concurrency has two bounds. AWS throttles EKS and EC2 per account and region and IAM per account,
so each *lane* (account and region, or account and ``iam``) runs at most ``per_lane`` tasks at a
time; tasks beyond that wait in the lane's queue without holding a worker. The pool's size is the
global bound on threads and sockets. More accounts and regions thus read faster, while no single
account and region sees more than ``per_lane`` requests in flight.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from cniguard.collect.aws.calls import CallLog
from cniguard.collect.aws.errors import Where
from cniguard.model.inventory import Gap

Lane = tuple[str, str]  # (account, region or "iam" / "account")
ACCOUNT_LANE = "account"


def iam_lane(account: str) -> Lane:
    return (account, "iam")


class TaskGroup:
    def __init__(self, pool: ThreadPoolExecutor, log: CallLog, *, per_lane: int) -> None:
        self._pool = pool
        self._log = log
        self._per_lane = max(1, per_lane)
        self._pending = 0
        self._done = threading.Condition()
        self._running: Counter[Lane] = Counter()
        self._queued: dict[Lane, deque[Callable[[], None]]] = {}

    def spawn(
        self,
        fn: Callable[..., None],
        *args: Any,
        what: str,
        where: Where,
        lane: Lane | None = None,
    ) -> None:
        """Run ``fn(*args)`` in ``lane`` (default: ``where``'s account and region)."""
        lane = lane or (where.account, where.region or ACCOUNT_LANE)
        job = partial(self._run, fn, args, what, where, lane)
        with self._done:
            self._pending += 1
            if self._running[lane] >= self._per_lane:
                self._queued.setdefault(lane, deque()).append(job)
                return
            self._running[lane] += 1
        self._pool.submit(job)

    def _run(
        self, fn: Callable[..., None], args: tuple[Any, ...], what: str, where: Where, lane: Lane
    ) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a bug in one reader must not stop the others
            self._log.add_gap(
                Gap(
                    what=what,
                    reason=f"internal error while reading: {type(exc).__name__}: {exc}",
                    account=where.account,
                    region=where.region,
                    cluster=where.cluster,
                    error_code="InternalError",
                )
            )
        finally:
            self._next(lane)

    def _next(self, lane: Lane) -> None:
        with self._done:
            queue = self._queued.get(lane)
            job = queue.popleft() if queue else None
            if job is None:
                self._running[lane] -= 1
            self._pending -= 1  # the queued job, if any, is still pending
            if self._pending == 0:
                self._done.notify_all()
        if job is not None:
            self._pool.submit(job)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every task (also those spawned meanwhile); False if ``timeout`` ran out."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)
