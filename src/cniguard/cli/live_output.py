"""What a live collection shows on stderr: a progress bar while it reads, a coverage table after.

Both go to stderr so stdout carries only the report; the bar is off when stderr is no terminal.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cniguard.model.inventory import Inventory

MAX_GAP_ROWS = 25


class RichProgress:
    """One bar per kind of work (accounts, regions, clusters), growing as work is found."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def _task(self, kind: str) -> TaskID:
        with self._lock:
            if kind not in self._tasks:
                self._tasks[kind] = self._progress.add_task(kind, total=0)
            return self._tasks[kind]

    def add(self, kind: str, total: int) -> None:
        task = self._task(kind)
        current = self._progress.tasks[task].total or 0
        self._progress.update(task, total=current + total)

    def advance(self, kind: str) -> None:
        self._progress.advance(self._task(kind))


class _Silent:
    def add(self, kind: str, total: int) -> None:
        return None

    def advance(self, kind: str) -> None:
        return None


@contextmanager
def progress_bar(
    *, enabled: bool, console: Console | None = None
) -> Iterator[RichProgress | _Silent]:
    """Bars with a spinner and the time elapsed, redrawn while nothing completes, so a scan
    that waits on a slow endpoint visibly waits rather than looking hung."""
    if not enabled:
        yield _Silent()
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    out = console or Console(stderr=True)
    with Progress(*columns, console=out, transient=True, refresh_per_second=4) as progress:
        yield RichProgress(progress)


def coverage_table(inventory: Inventory, console: Console | None = None) -> None:
    """What was read per account and region, and every gap with its reason."""
    out = console or Console(stderr=True)
    clusters: Counter[tuple[str, str]] = Counter((c.account, c.region) for c in inventory.clusters)
    gaps: Counter[tuple[str, str]] = Counter(
        (g.account or "-", g.region or "-") for g in inventory.gaps
    )
    read = Table(title="Coverage", title_justify="left")
    for column in ("account", "region", "clusters", "gaps"):
        read.add_column(column)
    for account, region in sorted(set(clusters) | set(gaps)):
        read.add_row(
            account, region, str(clusters[(account, region)]), str(gaps[(account, region)])
        )
    out.print(read)
    if inventory.gaps:
        table = Table(title="Not read", title_justify="left")
        for column in ("what", "account", "region", "cluster", "operation", "reason"):
            table.add_column(column, overflow="fold")
        for gap in inventory.gaps[:MAX_GAP_ROWS]:
            table.add_row(
                gap.what,
                gap.account or "-",
                gap.region or "-",
                (gap.cluster or "-").rsplit("/", 1)[-1],
                gap.operation or "-",
                gap.reason,
            )
        out.print(table)
        if len(inventory.gaps) > MAX_GAP_ROWS:
            out.print(f"... and {len(inventory.gaps) - MAX_GAP_ROWS} more gap(s) in the inventory")
    calls = inventory.meta.get("api_calls_total")
    seconds = inventory.meta.get("collect_seconds")
    out.print(f"{len(inventory.clusters)} cluster(s), {calls} API call(s), {seconds} s")
