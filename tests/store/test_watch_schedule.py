"""The watch loop's schedule, back-off and outage notices, on a fake clock (no waiting)."""

from __future__ import annotations

from cniguard.model.finding import Report
from cniguard.watcher import MAX_PENDING, StoreUnavailable, Watcher

from .factory import cluster, report


class Clock:
    """Time that moves only when the loop sleeps or a scan takes ``scan_seconds``."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Store:
    """Refuses writes while ``down`` says so (by call number); records what it stored."""

    def __init__(self, clock: Clock, down_until: float) -> None:
        self.clock = clock
        self.down_until = down_until
        self.stored: list[str] = []

    def __call__(self, rep: Report) -> int:
        if self.clock.now < self.down_until:
            raise StoreUnavailable("store postgresql+psycopg://cniguard:***@db/x: refused")
        self.stored.append(rep.generated_at)
        return len(self.stored)


def _watcher(clock: Clock, store: Store, scan_seconds: float = 5.0) -> tuple[Watcher, list[str],
                                                                             list[str], list[float]]:
    notices: list[str] = []
    lines: list[str] = []
    scans_at: list[float] = []

    def scan() -> Report:
        scans_at.append(clock.now)
        clock.now += scan_seconds
        return report(f"t{len(scans_at)}", [cluster("a")], [])

    watcher = Watcher(scan=scan, store=store, alert=lambda: 0, notify=notices.append,
                      echo=lines.append, interval=60.0, clock=lambda: clock.now,
                      sleep=clock.sleep)
    return watcher, notices, lines, scans_at


def test_outage_keeps_schedule_stores_in_order_and_notifies_once() -> None:
    clock = Clock()
    store = Store(clock, down_until=1000.0 + 150)  # down for the first three scans' flushes
    watcher, notices, lines, scans_at = _watcher(clock, store)
    assert watcher.run(5) is True
    # Scans start every 60 s on the dot, outage or not.
    assert [t - 1000.0 for t in scans_at] == [0.0, 60.0, 120.0, 180.0, 240.0]
    # Every scan is stored, oldest first, once the store answers again.
    assert store.stored == ["t1", "t2", "t3", "t4", "t5"]
    assert len(notices) == 2
    assert notices[0].startswith("cniguard watch cannot store its scans: store postgresql")
    assert "***@db" in notices[0]
    assert notices[1].startswith("cniguard watch: the store answers again")
    # Back-off doubles within a tick: 1 + 2 + 4 + 8 + 16 = 31 s, the next 32 s would pass the tick.
    assert clock.sleeps[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert lines.count("cniguard watch: store unavailable, 1 scan(s) kept; retrying at the next "
                       "scan") == 1
    stored_lines = [ln for ln in lines if ln.startswith("cniguard watch: stored scan")]
    assert stored_lines[0].endswith("(kept while the store was down)")
    assert stored_lines[-1] == ("cniguard watch: stored scan 5 (1 clusters, 0 failing findings); "
                                "0 alert(s) sent")


def test_a_slow_scan_skips_missed_ticks_instead_of_bunching() -> None:
    clock = Clock()
    watcher, _, _, scans_at = _watcher(clock, Store(clock, down_until=0.0), scan_seconds=130.0)
    assert watcher.run(3) is True
    assert [t - 1000.0 for t in scans_at] == [0.0, 180.0, 360.0]


def test_a_bounded_run_that_cannot_store_fails_and_says_so() -> None:
    clock = Clock()
    watcher, notices, lines, _ = _watcher(clock, Store(clock, down_until=1e12))
    assert watcher.run(1) is False
    assert len(notices) == 1
    assert lines[-1] == ("cniguard watch: 1 scan(s) could not be stored: store "
                         "postgresql+psycopg://cniguard:***@db/x: refused")
    assert sum(clock.sleeps) < 120.0  # the last scan retries for at most LAST_FLUSH_SECONDS


def test_pending_scans_are_bounded_and_the_drop_is_reported() -> None:
    clock = Clock()
    # Down until 30 s into scan MAX_PENDING + 1's tick: that scan is one too many to keep.
    store = Store(clock, down_until=1000.0 + 60 * MAX_PENDING + 30)
    watcher, _, lines, _ = _watcher(clock, store)
    assert watcher.run(MAX_PENDING + 3) is False  # one scan was dropped on the way
    assert store.stored == [f"t{i}" for i in range(2, MAX_PENDING + 4)]
    assert [ln for ln in lines if ln.startswith("cniguard watch: dropped")] == [
        f"cniguard watch: dropped the oldest unstored scan (1 so far); at most {MAX_PENDING} are "
        "kept while the store is down"]
