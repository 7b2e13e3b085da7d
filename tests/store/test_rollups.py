"""The per-day rollups give the KPIs of the raw history, and revision 0004 backfills them."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select

from cniguard.model.finding import Finding, IdentityMode, Severity
from cniguard.store import save_report
from cniguard.store.database import alembic_config, get_engine, upgrade, write_transaction
from cniguard.store.kpi import compute_kpis
from cniguard.store.schema import ClusterDay, ClusterLatest, FleetDay, Incident, IncidentDay
from cniguard.store.scope import as_utc

from .factory import cluster, finding, report
from .reference_kpi import reference_kpis

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
NAMES = [f"c{i}" for i in range(6)]
MODES: tuple[IdentityMode, ...] = ("irsa", "node_role", "mixed", "unknown", "not_applicable")
RULES: tuple[tuple[str, Severity], ...] = (
    ("CNI001", "critical"), ("CNI030", "critical"), ("CNI020", "low"),
)
DERIVED = (ClusterLatest, ClusterDay, FleetDay, IncidentDay)  # kept by the save, backfilled


def _scan(rng: random.Random, at: dt.datetime) -> Any:
    """Some of the fleet, each with random failures; now and then a gap or a suppression."""
    names = sorted(rng.sample(NAMES, rng.randint(3, len(NAMES))))
    fleet = [cluster(n, rng.choice(MODES), production=n in ("c0", "c1")) for n in names]
    failing: list[Finding] = []
    for n in names:
        for rule_id, severity in RULES:
            if rng.random() < 0.4:
                failing.append(finding(rule_id, n, severity=severity, resource=f"{n}/{rule_id}",
                                       suppressed=rng.random() < 0.1))
        if rng.random() < 0.5:  # CNI002: high on even clusters, critical on odd ones
            failing.append(finding("CNI002", n, severity="critical" if int(n[1:]) % 2 else "high"))
    gaps = [{"what": "eks", "cluster": cluster(rng.choice(names)).arn}] \
        if rng.random() < 0.2 else []
    return report(at.isoformat(), fleet, failing, gaps=gaps)


def _history(db_url: str, seed: int) -> list[dt.datetime]:
    """Six days of one to three scans at whole hours; the second scan is stored last (late)."""
    rng = random.Random(seed)
    times = sorted(
        START + dt.timedelta(days=day, hours=hour)
        for day in range(6)
        for hour in rng.sample(range(24), rng.randint(1, 3))
    )
    scans = [_scan(rng, at) for at in times]
    for scan in [scans[0], *scans[2:], scans[1]]:
        save_report(db_url, scan)
    return times


def _derived_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.__tablename__: sorted(
                tuple(getattr(r, c.key) for c in t.__table__.columns)
                for r in conn.execute(select(t))
            )
            for t in DERIVED
        }


def _incident_spans(engine: Engine) -> dict[int, list[tuple[dt.datetime, dt.datetime | None]]]:
    spans: dict[int, list[tuple[dt.datetime, dt.datetime | None]]] = {}
    with engine.connect() as conn:
        for finding_id, opened, resolved in conn.execute(
            select(Incident.finding_id, Incident.opened_at, Incident.resolved_at)
            .order_by(Incident.opened_at)
        ):
            spans.setdefault(finding_id, []).append(
                (as_utc(opened), as_utc(resolved) if resolved is not None else None))
    return spans


@pytest.mark.parametrize("seed", [1, 2])
def test_rollup_kpis_equal_the_raw_history(db_url: str, seed: int) -> None:
    times = _history(db_url, seed)
    engine = get_engine(db_url)
    for spans in _incident_spans(engine).values():  # the late scan neither rewinds nor overlaps
        times_in_order = [t for span in spans for t in span if t is not None]
        assert times_in_order == sorted(times_in_order)
        assert all(resolved is not None for _, resolved in spans[:-1])
    windows = (None, dt.timedelta(hours=3), dt.timedelta(days=1),
               dt.timedelta(days=2, hours=5), dt.timedelta(days=30))
    moments = (times[-1] + dt.timedelta(hours=1), times[len(times) // 2],
               times[len(times) // 2] - dt.timedelta(minutes=30), START + dt.timedelta(days=9))
    for now in moments:
        for since in windows:
            assert compute_kpis(engine, since, now) == reference_kpis(engine, since, now), (
                now, since)


def test_upgrade_from_0003_backfills_what_the_save_keeps(db_url: str) -> None:
    _history(db_url, 3)
    engine = get_engine(db_url)
    written = _derived_rows(engine)
    assert all(written.values())
    with write_transaction(engine) as conn:
        command.downgrade(alembic_config(conn), "0003")
    assert not {"cluster_day", "fleet_daily", "incident_daily"} \
        & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert _derived_rows(engine) == written
