"""A bounded pool of read tasks that may spawn follow-up tasks, and a wait for all of them.

Follow-ups are submitted, never awaited, by the task that discovers them (list -> describe ->
policy), so no worker blocks on another and the pool cannot deadlock; independent chains run side
by side, which keeps wall time near the longest dependency chain. A task that raises something
other than an AWS error (a bug, an unexpected response shape) becomes a gap on its own scope: it
never stops the other tasks and never leaves a pass behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from cniguard.collect.aws.calls import CallLog
from cniguard.collect.aws.errors import Where
from cniguard.model.inventory import Gap


class TaskGroup:
    def __init__(self, pool: ThreadPoolExecutor, log: CallLog) -> None:
        self._pool = pool
        self._log = log
        self._pending = 0
        self._done = threading.Condition()

    def spawn(self, fn: Callable[..., None], *args: Any, what: str, where: Where) -> None:
        with self._done:
            self._pending += 1
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda f: self._finish(f, what, where))

    def _finish(self, future: Future[None], what: str, where: Where) -> None:
        exc = future.exception()
        if exc is not None:
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
        with self._done:
            self._pending -= 1
            if self._pending == 0:
                self._done.notify_all()

    def wait(self) -> None:
        with self._done:
            while self._pending:
                self._done.wait()
