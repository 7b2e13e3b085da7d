"""The `cniguard watch` loop: scan on a fixed schedule, store, alert; survive a store outage.

A scan the store cannot take (database restarting, unreachable, disk full) is kept in memory and
retried with exponential back-off until the next scheduled scan; the schedule does not drift
(missed ticks are skipped, not bunched). Reports still pending are stored oldest first once the
store answers again: the store takes late reports without re-opening what a newer one judged. The
outage is announced once on the webhook (and once more when it is over), never once per retry.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from cniguard.model.finding import Report

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
MAX_PENDING = 96  # a day of 15-minute scans
LAST_FLUSH_SECONDS = 120.0  # how long the final scan of a bounded run keeps retrying


class StoreUnavailable(Exception):
    """The store could not take a write or a read now; the message is one masked line."""


@dataclass
class Watcher:
    """One watch run. Every effect is a callable, so the schedule is testable without waiting."""

    scan: Callable[[], Report]
    store: Callable[[Report], int]  # raises StoreUnavailable
    alert: Callable[[], int]  # delivers pending alerts; raises StoreUnavailable
    notify: Callable[[str], None]  # one message to the webhook, best effort
    echo: Callable[[str], None]
    interval: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    pending: deque[Report] = field(default_factory=deque)
    outage: str | None = None  # the first error of the current outage, while it lasts
    dropped: int = 0

    def run(self, iterations: int | None) -> bool:
        """Scan ``iterations`` times (forever when None); True when every scan was stored."""
        tick = self.clock()
        done = 0
        while True:
            self._queue(self.scan())
            done += 1
            last = iterations is not None and done >= iterations
            budget = min(self.interval, LAST_FLUSH_SECONDS) if last else self.interval
            self._flush(tick + budget)
            if last:
                if self.pending:
                    self.echo(
                        f"cniguard watch: {len(self.pending)} scan(s) could not be stored: "
                        f"{self.outage}"
                    )
                return not self.pending and not self.dropped
            tick += self.interval
            now = self.clock()
            if now > tick:  # a slow scan or outage: skip the ticks it missed, keep the phase
                tick += self.interval * ((now - tick) // self.interval + 1)
            self.sleep(max(0.0, tick - self.clock()))

    def _queue(self, report: Report) -> None:
        if len(self.pending) >= MAX_PENDING:
            self.pending.popleft()
            self.dropped += 1
            self.echo(
                f"cniguard watch: dropped the oldest unstored scan ({self.dropped} so far); "
                f"at most {MAX_PENDING} are kept while the store is down"
            )
        self.pending.append(report)

    def _flush(self, deadline: float) -> None:
        """Store what is pending, retrying with back-off until ``deadline``; then alert."""
        delay = BACKOFF_FIRST
        stored = ""
        while self.pending:
            report = self.pending[0]
            try:
                scan_id = self.store(report)
            except StoreUnavailable as exc:
                self._down(str(exc))
                if self.clock() + delay >= deadline:
                    self.echo(
                        f"cniguard watch: store unavailable, {len(self.pending)} scan(s) kept; "
                        "retrying at the next scan"
                    )
                    return
                self.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            self.pending.popleft()
            if stored:
                self.echo(f"{stored} (kept while the store was down)")
            stored = (
                f"cniguard watch: stored scan {scan_id} ({len(report.clusters)} clusters, "
                f"{len(report.failing())} failing findings)"
            )
        self._up()
        try:
            sent = self.alert()
        except StoreUnavailable as exc:
            self._down(str(exc))
            sent = 0
        self.echo(f"{stored}; {sent} alert(s) sent")

    def _down(self, error: str) -> None:
        if self.outage is None:
            self.outage = error
            self.echo(f"cniguard watch: cannot store: {error}")
            self.notify(
                f"cniguard watch cannot store its scans: {error}. Scans are kept and retried "
                "with back-off; the schedule goes on."
            )

    def _up(self) -> None:
        if self.outage is not None:
            self.outage = None
            self.echo("cniguard watch: the store answers again")
            self.notify("cniguard watch: the store answers again; pending scans are stored.")
