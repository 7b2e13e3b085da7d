"""The KPIs computed from the raw history (scans, clusters, incidents): the rollups' oracle.

This is the straightforward computation that ``cniguard.store.kpi`` replaced with per-day rollups;
tests assert both give the same answer on the same store. It shares only the counting of one set of
cluster observations (``FleetCounts``); what it reads, and from where, is its own.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from cniguard.model.finding import SEVERITIES
from cniguard.store.kpi import (
    MTTR_RULES,
    NODE_ROLE_RULE,
    NODE_ROLE_SEVERITIES,
    FleetCounts,
)
from cniguard.store.kpi_cost import finops_kpis
from cniguard.store.queries import iso
from cniguard.store.runs import latest_run
from cniguard.store.schema import Incident, Scan, ScanCluster, StoredFinding
from cniguard.store.scope import as_utc


@dataclass(frozen=True)
class _Timeline:
    """Open/close times of incidents, sorted, to count what was open at any instant."""

    opened: tuple[dt.datetime, ...]
    closed: tuple[dt.datetime, ...]

    @classmethod
    def of(cls, spans: Iterable[tuple[dt.datetime, dt.datetime | None]]) -> _Timeline:
        spans = list(spans)
        return cls(
            opened=tuple(sorted(o for o, _ in spans)),
            closed=tuple(sorted(c for _, c in spans if c is not None)),
        )

    def open_at(self, at: dt.datetime) -> int:
        return bisect_right(self.opened, at) - bisect_right(self.closed, at)


def _mttr(durations: list[float]) -> dict[str, Any]:
    return {
        "cni_incidents": round(sum(durations) / len(durations), 2) if durations else None,
        "resolved_incidents": len(durations),
    }


def reference_kpis(
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
            until = max(dt.datetime.now(dt.UTC), as_utc(newest) if newest else dt.datetime.min
                        .replace(tzinfo=dt.UTC))
        start = until - since if since is not None else None
        latest = _latest_fleet(conn, start, until)
        daily = _daily_fleets(conn, start, until)
        incidents = [
            (r.rule_id, r.severity, as_utc(r.opened_at),
             as_utc(r.resolved_at) if r.resolved_at else None, r.resolution)
            for r in conn.execute(
                select(Incident.rule_id, Incident.severity, Incident.opened_at,
                       Incident.resolved_at, Incident.resolution)
                .where(Incident.opened_at <= until)
            )
        ]
        finops = finops_kpis(conn, start, until)  # already raw: kpi_cost.py reads no rollup
        open_now = {
            str(sev): int(count)
            for sev, count in conn.execute(
                select(StoredFinding.severity, func.count())
                .where(StoredFinding.is_open.is_(True))
                .group_by(StoredFinding.severity)
            )
        }
    by_sev = {sev: _Timeline.of((o, c) for _, s, o, c, _ in incidents if s == sev)
              for sev in SEVERITIES}
    node_role = _Timeline.of(
        (o, c) for r, s, o, c, _ in incidents
        if r == NODE_ROLE_RULE and s in NODE_ROLE_SEVERITIES
    )
    fixes = [
        (c, (c - o).total_seconds() / 3600)
        for r, _, o, c, res in incidents
        if r in MTTR_RULES and c is not None and res == "fixed" and c <= until
    ]
    trend = []
    for day, fleet in daily.items():
        end = min(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
                  + dt.timedelta(days=1, microseconds=-1), until)
        trend.append({
            "day": day,
            **fleet.as_json(),
            "open_findings_by_severity": {s: by_sev[s].open_at(end) for s in SEVERITIES},
            "node_role_findings_high_critical": node_role.open_at(end),
            "mttr_hours": _mttr([h for c, h in fixes if c.date().isoformat() == day]),
        })
    return {
        "window": {"since": iso(start), "until": iso(until)},
        **latest.as_json(),
        "open_findings_by_severity": {s: open_now.get(s, 0) for s in SEVERITIES},
        "node_role_findings_high_critical": node_role.open_at(until),
        "mttr_hours": _mttr([h for c, h in fixes if start is None or c >= start]),
        "trend": trend,
        **finops,
        "latest_run": _latest_run(engine, until),
    }


def _latest_run(engine: Engine, until: dt.datetime) -> dict[str, Any] | None:
    with engine.connect() as conn:
        run = latest_run(conn, until)
    return run.as_json() if run is not None else None


def _latest_fleet(conn: Any, start: dt.datetime | None, until: dt.datetime) -> FleetCounts:
    ranked = (
        select(
            ScanCluster.identity_mode, ScanCluster.production, ScanCluster.compliant,
            ScanCluster.complete,
            func.row_number().over(
                partition_by=ScanCluster.arn, order_by=(Scan.generated_at.desc(), Scan.id.desc())
            ).label("rank"),
        )
        .join(Scan, Scan.id == ScanCluster.scan_id)
        .where(Scan.generated_at <= until)
    )
    if start is not None:
        ranked = ranked.where(Scan.generated_at >= start)
    return _aggregate(conn, ranked.subquery(), None)[""]


def _daily_fleets(conn: Any, start: dt.datetime | None, until: dt.datetime) -> dict[str, FleetCounts]:
    """Per scan day: each cluster at its last scan of that day."""
    ranked = (
        select(
            Scan.day, ScanCluster.identity_mode, ScanCluster.production, ScanCluster.compliant,
            ScanCluster.complete,
            func.row_number().over(
                partition_by=(Scan.day, ScanCluster.arn),
                order_by=(Scan.generated_at.desc(), Scan.id.desc()),
            ).label("rank"),
        )
        .join(Scan, Scan.id == ScanCluster.scan_id)
        .where(Scan.generated_at <= until)
    )
    if start is not None:
        ranked = ranked.where(Scan.generated_at >= start)
    sub = ranked.subquery()
    return _aggregate(conn, sub, sub.c.day)


def _aggregate(conn: Any, sub: Any, day: Any) -> dict[str, FleetCounts]:
    keys = [sub.c.identity_mode, sub.c.production, sub.c.compliant, sub.c.complete]
    if day is not None:
        keys.insert(0, day)
    query = select(*keys, func.count()).where(sub.c.rank == 1).group_by(*keys)
    fleets: dict[str, FleetCounts] = defaultdict(FleetCounts)
    if day is None:
        fleets[""] = FleetCounts()
    for row in conn.execute(query):
        values = tuple(row)
        label = str(values[0]) if day is not None else ""
        mode, production, compliant, complete, count = values[-5:]
        fleets[label].add(str(mode), bool(production), compliant, bool(complete), int(count))
    return dict(sorted(fleets.items()))
