"""The governance KPIs over the stored history, now and per scan day.

- ``irsa_compliance_pct`` / ``irsa_compliance_pct_production``: compliant clusters among those
  where aws-node runs (not ``not_applicable``; an unknown verdict counts against), each cluster at
  its latest scan: the engine's definition for one report, over time.
- ``clusters_by_identity`` / ``prod_clusters_by_identity``: clusters per CNI identity mode.
- ``open_findings_by_severity``: active failures not yet resolved.
- ``node_role_findings_high_critical``: open high/critical CNI002 findings (CNI permissions on
  worker-node roles).
- ``mttr_hours.cni_incidents``: mean hours from open to fix of CNI001/CNI030-032 incidents resolved
  in the window (``None`` when none was); suppressed incidents are not fixes and do not count.
- ``coverage_pct``: clusters whose latest scan read them with no coverage gap.
- ``cost_of_cni_incidents`` / ``cni_permission_exposure``: FinOps figures (``kpi_cost.py``).

The figures come from the per-day rollups (``rollup.py``) for whole days inside the window, and
from the raw tables only for the day the window starts in and the day it ends in, so the cost does
not grow with the length of the history. ``tests/store/reference_kpi.py`` keeps the computation
over the raw history that these must equal.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, func, select
from sqlalchemy.sql import ColumnElement

from cniguard.model.finding import IDENTITY_MODES, SEVERITIES
from cniguard.store.kpi_cost import finops_kpis
from cniguard.store.queries import iso
from cniguard.store.rollup import MICROSECOND, chunks
from cniguard.store.runs import latest_run
from cniguard.store.schema import (
    ClusterDay,
    ClusterLatest,
    FleetDay,
    Incident,
    IncidentDay,
    Scan,
    ScanCluster,
    StoredFinding,
)
from cniguard.store.scope import as_utc

MTTR_RULES = ("CNI001", "CNI030", "CNI031", "CNI032")
NODE_ROLE_RULE = "CNI002"
NODE_ROLE_SEVERITIES = ("critical", "high")


@dataclass
class FleetCounts:
    """Counts over one set of cluster observations."""

    modes: Counter[str] = field(default_factory=Counter)
    prod_modes: Counter[str] = field(default_factory=Counter)
    applicable: Counter[bool] = field(default_factory=Counter)  # by "compliant is True"
    prod_applicable: Counter[bool] = field(default_factory=Counter)
    complete: int = 0
    total: int = 0

    def add(
        self, mode: str, production: bool, compliant: bool | None, complete: bool, count: int = 1
    ) -> None:
        self.total += count
        self.complete += count if complete else 0
        self.modes[mode] += count
        if mode != "not_applicable":
            self.applicable[compliant is True] += count
        if production:
            self.prod_modes[mode] += count
            if mode != "not_applicable":
                self.prod_applicable[compliant is True] += count

    def as_json(self) -> dict[str, Any]:
        return {
            "clusters": self.total,
            "irsa_compliance_pct": _pct(self.applicable[True], self.applicable.total()),
            "irsa_compliance_pct_production": _pct(
                self.prod_applicable[True], self.prod_applicable.total()
            ),
            "clusters_by_identity": {m: self.modes[m] for m in IDENTITY_MODES},
            "prod_clusters_by_identity": {m: self.prod_modes[m] for m in IDENTITY_MODES},
            "coverage_pct": _pct(self.complete, self.total),
        }

    def add_rows(self, rows: Iterable[Sequence[Any]]) -> FleetCounts:
        """Add ``(mode, production, compliant, complete, count)`` rows."""
        for mode, production, compliant, complete, count in rows:
            self.add(str(mode), bool(production), compliant, bool(complete), int(count))
        return self


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class _Window:
    """Scans stamped from ``start`` (all history when None) up to ``until``, both included."""

    start: dt.datetime | None
    until: dt.datetime

    @property
    def start_day(self) -> str | None:
        return self.start.date().isoformat() if self.start is not None else None

    @property
    def until_day(self) -> str:
        return self.until.date().isoformat()

    def covers(self, column: Any) -> ColumnElement[bool]:
        inside: ColumnElement[bool] = column <= self.until
        return and_(inside, column >= self.start) if self.start is not None else inside


def _day_start(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def _day_end(day: str) -> dt.datetime:
    return _day_start(day) + dt.timedelta(days=1) - MICROSECOND


@dataclass
class _Tally:
    """Incidents of one rule and severity: opened, closed, and fixed with their open time."""

    opened: int = 0
    closed: int = 0
    fixed: int = 0
    fixed_us: int = 0

    def add(self, opened: int, closed: int, fixed: int, fixed_us: int) -> None:
        self.opened += opened
        self.closed += closed
        self.fixed += fixed
        self.fixed_us += fixed_us


Tallies = dict[tuple[str, str], _Tally]  # by (rule_id, severity)


def _tallies() -> Tallies:
    return defaultdict(_Tally)


def _raw_tallies(conn: Connection, low: dt.datetime, high: dt.datetime) -> Tallies:
    """Incidents opened and closed between ``low`` and ``high`` (both included), from the table."""
    tallies = _tallies()
    for rule_id, severity, count in conn.execute(
        select(Incident.rule_id, Incident.severity, func.count())
        .where(Incident.opened_at >= low, Incident.opened_at <= high)
        .group_by(Incident.rule_id, Incident.severity)
    ):
        tallies[(rule_id, severity)].add(int(count), 0, 0, 0)
    for rule_id, severity, opened_at, resolved_at, resolution in conn.execute(
        select(
            Incident.rule_id,
            Incident.severity,
            Incident.opened_at,
            Incident.resolved_at,
            Incident.resolution,
        ).where(Incident.resolved_at >= low, Incident.resolved_at <= high)
    ):
        tally = tallies[(rule_id, severity)]
        tally.closed += 1
        if resolution == "fixed" and resolved_at is not None:
            tally.add(0, 0, 1, (as_utc(resolved_at) - as_utc(opened_at)) // MICROSECOND)
    return tallies


@dataclass
class _IncidentBooks:
    """Incident tallies: before the first day needed, per day up to ``until``, and the window's."""

    before: Tallies
    days: dict[str, Tallies]  # the day of ``until`` only up to ``until``
    window_fixes: Tallies  # incidents closed inside the window (only ``fixed`` is read)

    @classmethod
    def read(cls, conn: Connection, window: _Window, first_day: str) -> _IncidentBooks:
        before = _tallies()
        for rule_id, severity, *sums in conn.execute(
            select(
                IncidentDay.rule_id,
                IncidentDay.severity,
                func.sum(IncidentDay.opened),
                func.sum(IncidentDay.closed),
                func.sum(IncidentDay.fixed),
                func.sum(IncidentDay.fixed_us),
            )
            .where(IncidentDay.day < first_day)
            .group_by(IncidentDay.rule_id, IncidentDay.severity)
        ):
            before[(rule_id, severity)].add(*(int(v) for v in sums))
        days: dict[str, Tallies] = defaultdict(_tallies)
        for row in conn.execute(
            select(IncidentDay).where(
                IncidentDay.day >= first_day, IncidentDay.day < window.until_day
            )
        ):
            days[row.day][(row.rule_id, row.severity)].add(
                row.opened, row.closed, row.fixed, row.fixed_us
            )
        days[window.until_day] = _raw_tallies(conn, _day_start(window.until_day), window.until)
        if window.start is None or window.start_day is None:
            window_fixes = _merge([before, *days.values()])
        elif window.start_day == window.until_day:
            window_fixes = _raw_tallies(conn, window.start, window.until)
        else:
            start_day = window.start_day
            window_fixes = _merge(
                [
                    _raw_tallies(conn, window.start, _day_end(start_day)),
                    *(t for day, t in days.items() if day > start_day),
                ]
            )
        return cls(before=before, days=dict(days), window_fixes=window_fixes)

    def open_at_end(self, days: Sequence[str]) -> dict[str, Tallies]:
        """Per day asked: each rule and severity's incidents still open at that day's end."""
        running = _merge([self.before])
        wanted = sorted(set(days))
        result: dict[str, Tallies] = {}
        for day in sorted(set(self.days) | set(wanted)):
            for key, tally in self.days.get(day, {}).items():
                running[key].add(tally.opened, tally.closed, 0, 0)
            if day in wanted:
                result[day] = _merge([running])
        return result


def _merge(parts: Iterable[Tallies]) -> Tallies:
    merged = _tallies()
    for part in parts:
        for key, tally in part.items():
            merged[key].add(tally.opened, tally.closed, tally.fixed, tally.fixed_us)
    return merged


def _open_by_severity(tallies: Tallies) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for (_rule, severity), t in tallies.items():
        counts[severity] += t.opened - t.closed
    return {s: counts[s] for s in SEVERITIES}


def _node_role_open(tallies: Tallies) -> int:
    return sum(
        t.opened - t.closed
        for (rule_id, severity), t in tallies.items()
        if rule_id == NODE_ROLE_RULE and severity in NODE_ROLE_SEVERITIES
    )


def _mttr(tallies: Tallies) -> dict[str, Any]:
    fixed = sum(t.fixed for (rule_id, _), t in tallies.items() if rule_id in MTTR_RULES)
    held_us = sum(t.fixed_us for (rule_id, _), t in tallies.items() if rule_id in MTTR_RULES)
    return {
        "cni_incidents": round(held_us / fixed / 3_600_000_000, 2) if fixed else None,
        "resolved_incidents": fixed,
    }


def compute_kpis(
    engine: Engine, since: dt.timedelta | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """KPIs at ``now`` over scans of the last ``since`` (all history when None), with the trend.

    Without ``now``: the later of this clock and the newest scan.
    """
    with engine.connect() as conn:
        if now is not None:
            until = as_utc(now)
        else:  # a scan stamped ahead of this clock (a fixed-time demo) still counts
            newest = conn.scalar(select(func.max(Scan.generated_at)))
            until = max(
                dt.datetime.now(dt.UTC),
                as_utc(newest) if newest else dt.datetime.min.replace(tzinfo=dt.UTC),
            )
        window = _Window(until - since if since is not None else None, until)
        latest = _latest_fleet(conn, window)
        daily = _daily_fleets(conn, window)
        first_day = window.start_day or min([*daily, window.until_day])
        books = _IncidentBooks.read(conn, window, first_day)
        finops = finops_kpis(conn, window.start, until)  # cost and exposure: store/kpi_cost.py
        open_now = {
            str(sev): int(count)
            for sev, count in conn.execute(
                select(StoredFinding.severity, func.count())
                .where(StoredFinding.is_open.is_(True))
                .group_by(StoredFinding.severity)
            )
        }
        run = latest_run(conn, until)
    open_at_end = books.open_at_end([*daily, window.until_day])
    trend = [
        {
            "day": day,
            **fleet.as_json(),
            "open_findings_by_severity": _open_by_severity(open_at_end[day]),
            "node_role_findings_high_critical": _node_role_open(open_at_end[day]),
            "mttr_hours": _mttr(books.days.get(day, {})),
        }
        for day, fleet in daily.items()
    ]
    return {
        "window": {"since": iso(window.start), "until": iso(until)},
        **latest.as_json(),
        "open_findings_by_severity": {s: open_now.get(s, 0) for s in SEVERITIES},
        "node_role_findings_high_critical": _node_role_open(open_at_end[window.until_day]),
        "mttr_hours": _mttr(books.window_fixes),
        "trend": trend,
        **finops,
        "latest_run": run.as_json() if run is not None else None,  # shards of one --run-id
    }


_FLEET_KEY = (
    ScanCluster.identity_mode,
    ScanCluster.production,
    ScanCluster.compliant,
    ScanCluster.complete,
)


def _latest_fleet(conn: Connection, window: _Window) -> FleetCounts:
    """Each cluster at its latest scan in the window, from ``cluster_latest``."""
    key = (
        ClusterLatest.identity_mode,
        ClusterLatest.production,
        ClusterLatest.compliant,
        ClusterLatest.complete,
    )
    fleet = FleetCounts().add_rows(
        conn.execute(
            select(*key, func.count())
            .where(window.covers(ClusterLatest.generated_at))
            .group_by(*key)
        )
    )
    later = conn.scalars(
        select(ClusterLatest.arn).where(ClusterLatest.generated_at > window.until)
    ).all()
    return fleet.add_rows(_ranked(conn, later, window, None))


def _daily_fleets(conn: Connection, window: _Window) -> dict[str, FleetCounts]:
    """Per scan day: each cluster at its last scan of that day (rollups inside the window)."""
    fleets: dict[str, FleetCounts] = defaultdict(FleetCounts)
    inner = select(
        FleetDay.day,
        FleetDay.identity_mode,
        FleetDay.production,
        FleetDay.compliant,
        FleetDay.complete,
        FleetDay.clusters,
    ).where(FleetDay.day < window.until_day)
    if window.start_day is not None:
        inner = inner.where(FleetDay.day > window.start_day)
    for day, *row in conn.execute(inner):
        fleets[day].add_rows([row])
    for day in {window.until_day} | ({window.start_day} if window.start_day else set()):
        rows = [
            *conn.execute(
                select(*_FLEET_KEY, func.count())
                .join(ClusterDay, ClusterDay.scan_cluster_id == ScanCluster.id)
                .where(ClusterDay.day == day, window.covers(ClusterDay.generated_at))
                .group_by(*_FLEET_KEY)
            ),
            *_ranked(
                conn,
                conn.scalars(
                    select(ClusterDay.arn).where(
                        ClusterDay.day == day, ClusterDay.generated_at > window.until
                    )
                ).all(),
                window,
                day,
            ),
        ]
        if rows:
            fleets[day].add_rows(rows)
    return dict(sorted(fleets.items()))


def _ranked(
    conn: Connection, arns: Sequence[str], window: _Window, day: str | None
) -> list[Row[Any]]:
    """Fleet rows of ``arns`` at their last scan in the window (of ``day``), ranked from history.

    Only needed for clusters scanned after ``until`` (a KPI date in the past), where the
    pointers hold a scan the window must not see.
    """
    rows: list[Row[Any]] = []
    for chunk in chunks(arns):
        ranked = (
            select(
                *_FLEET_KEY,
                func.row_number()
                .over(
                    partition_by=ScanCluster.arn,
                    order_by=(Scan.generated_at.desc(), Scan.id.desc()),
                )
                .label("rank"),
            )
            .join(Scan, Scan.id == ScanCluster.scan_id)
            .where(ScanCluster.arn.in_(chunk), window.covers(Scan.generated_at))
        )
        if day is not None:
            ranked = ranked.where(Scan.day == day)
        sub = ranked.subquery()
        keys = [sub.c.identity_mode, sub.c.production, sub.c.compliant, sub.c.complete]
        rows.extend(
            conn.execute(select(*keys, func.count()).where(sub.c.rank == 1).group_by(*keys))
        )
    return rows
