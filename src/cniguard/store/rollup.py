"""Per-day rollups written in the save transaction, so the KPI trend reads rows per day, not history.

- ``cluster_day``: each cluster's last observation of each UTC day (a scan stored late, older than
  the one a day already holds, does not move it).
- ``fleet_daily``: how many of a day's ``cluster_day`` observations share one KPI key.
- ``incident_daily``: incidents opened, closed and fixed per day, rule and severity.

``kpi.compute_kpis`` reads these for whole days inside a window and the raw tables only for the
day the window starts in and the day it ends in.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cniguard.store.schema import ClusterDay, FleetDay, Incident, IncidentDay, ScanCluster
from cniguard.store.scope import as_utc

CHUNK = 500
MICROSECOND = dt.timedelta(microseconds=1)

FleetKey = tuple[str, bool, bool, bool]  # identity mode, production, compliant is True, complete


def fleet_key(mode: str, production: bool, compliant: bool | None, complete: bool) -> FleetKey:
    return (mode, bool(production), compliant is True, bool(complete))


def chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    """``values`` in slices short enough for one ``IN (...)``."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def roll_cluster_day(
    session: Session, rows: Sequence[ScanCluster], day: str, at: dt.datetime
) -> None:
    """Make this scan's rows their clusters' observation of ``day`` unless a later one holds it."""
    held: dict[str, tuple[ClusterDay, FleetKey]] = {}
    for chunk in chunks(sorted({r.arn for r in rows})):
        query = (
            select(
                ClusterDay,
                ScanCluster.identity_mode,
                ScanCluster.production,
                ScanCluster.compliant,
                ScanCluster.complete,
            )
            .join(ScanCluster, ScanCluster.id == ClusterDay.scan_cluster_id)
            .where(ClusterDay.day == day, ClusterDay.arn.in_(chunk))
        )
        for pointer, mode, production, compliant, complete in session.execute(query):
            held[pointer.arn] = (pointer, fleet_key(mode, production, compliant, complete))
    delta: Counter[FleetKey] = Counter()
    for row in rows:
        key = fleet_key(row.identity_mode, row.production, row.compliant, row.complete)
        current = held.get(row.arn)
        if current is None:
            pointer = ClusterDay(day=day, arn=row.arn, scan_cluster_id=row.id, generated_at=at)
            session.add(pointer)
        else:
            pointer, old = current
            if as_utc(pointer.generated_at) > at:
                continue
            delta[old] -= 1
            pointer.scan_cluster_id = row.id
            pointer.generated_at = at
        delta[key] += 1
        held[row.arn] = (pointer, key)
    _apply_fleet(session, day, delta)


def _apply_fleet(session: Session, day: str, delta: Counter[FleetKey]) -> None:
    stored = {
        (r.identity_mode, r.production, r.compliant, r.complete): r
        for r in session.scalars(select(FleetDay).where(FleetDay.day == day))
    }
    for key, change in delta.items():
        if change == 0:
            continue
        row = stored.get(key)
        if row is None:
            mode, production, compliant, complete = key
            session.add(
                FleetDay(
                    day=day,
                    identity_mode=mode,
                    production=production,
                    compliant=compliant,
                    complete=complete,
                    clusters=change,
                )
            )
        elif row.clusters + change == 0:
            session.delete(row)
        else:
            row.clusters += change


@dataclass
class IncidentTally:
    """What one save did to incidents, per (day, rule, severity): applied to ``incident_daily``."""

    counts: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)

    def _slot(self, at: dt.datetime, incident: Incident) -> list[int]:
        key = (as_utc(at).date().isoformat(), incident.rule_id, incident.severity)
        return self.counts.setdefault(key, [0, 0, 0, 0])

    def opened(self, incident: Incident, at: dt.datetime) -> None:
        self._slot(at, incident)[0] += 1

    def closed(self, incident: Incident, at: dt.datetime, resolution: str) -> None:
        slot = self._slot(at, incident)
        slot[1] += 1
        if resolution == "fixed":
            slot[2] += 1
            slot[3] += (as_utc(at) - as_utc(incident.opened_at)) // MICROSECOND

    def apply(self, session: Session) -> None:
        keys = sorted(self.counts)
        stored: dict[tuple[str, str, str], IncidentDay] = {}
        for start in range(0, len(keys), CHUNK):
            query = select(IncidentDay).where(
                tuple_(IncidentDay.day, IncidentDay.rule_id, IncidentDay.severity).in_(
                    keys[start : start + CHUNK]
                )
            )
            stored.update(((r.day, r.rule_id, r.severity), r) for r in session.scalars(query))
        for key in keys:
            opened, closed, fixed, fixed_us = self.counts[key]
            row = stored.get(key)
            if row is None:
                day, rule_id, severity = key
                session.add(
                    IncidentDay(
                        day=day,
                        rule_id=rule_id,
                        severity=severity,
                        opened=opened,
                        closed=closed,
                        fixed=fixed,
                        fixed_us=fixed_us,
                    )
                )
            else:
                row.opened += opened
                row.closed += closed
                row.fixed += fixed
                row.fixed_us += fixed_us
