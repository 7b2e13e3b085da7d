"""Findings and incidents as the dashboard and ``/api`` list them: filtered, sorted, one page.

A finding's listed ``state`` is what an operator must act on:

- ``open``: an active failure (failing, not suppressed) that no later read has resolved;
- ``suppressed``: failing (or unknown) under an unexpired suppression, as last reported;
- ``unknown``: its data was not read in the latest report that named it;
- ``resolved``: fixed, closed, or no longer reported by a later read that could judge it (a
  finding last seen in an old scan that a newer complete read no longer names is not current).

"Current" means no judgement of the finding is newer than its last sighting (``last_judged_at``
is written by every failure, pass and clean read: see ``store.repository``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from sqlalchemy import ColumnElement, Engine, Select, and_, case, func, or_, select

from cniguard.model.finding import SEVERITIES
from cniguard.store.kpi import MTTR_RULES
from cniguard.store.queries import iso
from cniguard.store.schema import ClusterLatest, Incident, StoredFinding
from cniguard.store.scope import as_utc

ListedState = Literal["open", "suppressed", "unknown", "resolved"]
LISTED_STATES: tuple[ListedState, ...] = ("open", "suppressed", "unknown", "resolved")
FindingSort = Literal["severity", "state", "last_seen", "first_seen", "cluster", "rule"]
FINDING_SORTS: tuple[FindingSort, ...] = (
    "severity",
    "state",
    "last_seen",
    "first_seen",
    "cluster",
    "rule",
)
AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"

_current = or_(
    StoredFinding.last_judged_at.is_(None),
    StoredFinding.last_judged_at <= StoredFinding.last_seen,
)
LISTED_STATE: ColumnElement[str] = case(
    (StoredFinding.is_open.is_(True), "open"),
    (and_(_current, StoredFinding.suppressed.is_(True)), "suppressed"),
    (and_(_current, StoredFinding.status == "unknown"), "unknown"),
    else_="resolved",
)
_SEVERITY_RANK: ColumnElement[int] = case(
    {s: i for i, s in enumerate(SEVERITIES)}, value=StoredFinding.severity, else_=len(SEVERITIES)
)

_STATE_RANK: ColumnElement[int] = case(
    {s: i for i, s in enumerate(("open", "unknown", "suppressed", "resolved"))},
    value=LISTED_STATE,
    else_=4,
)


@dataclass(frozen=True)
class FindingFilter:
    """Which findings to list; an empty tuple or None means any."""

    states: tuple[ListedState, ...] = ("open",)
    severities: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    account: str | None = None
    region: str | None = None
    environment: str | None = None
    production: bool | None = None
    cluster: str | None = None  # ARN
    name: str | None = None  # cluster name
    sort: FindingSort = "severity"


_COLUMNS = (
    StoredFinding.fingerprint,
    StoredFinding.rule_id,
    StoredFinding.severity,
    StoredFinding.status,
    StoredFinding.suppressed,
    LISTED_STATE.label("state"),
    StoredFinding.cluster,
    ClusterLatest.name.label("cluster_name"),
    StoredFinding.account,
    StoredFinding.region,
    ClusterLatest.environment,
    ClusterLatest.production,
    StoredFinding.resource,
    StoredFinding.title,
    StoredFinding.first_seen,
    StoredFinding.last_seen,
    StoredFinding.resolved_at,
    StoredFinding.last_judged_at,
    StoredFinding.suppression_reason,
    StoredFinding.suppression_expires,
)


def _where(query: AnySelect, flt: FindingFilter) -> AnySelect:
    query = query.outerjoin(ClusterLatest, ClusterLatest.arn == StoredFinding.cluster)
    if flt.states == ("open",):
        query = query.where(StoredFinding.is_open.is_(True))
    elif flt.states and set(flt.states) != set(LISTED_STATES):
        query = query.where(LISTED_STATE.in_(flt.states))
    if flt.severities:
        query = query.where(StoredFinding.severity.in_(flt.severities))
    if flt.rules:
        query = query.where(StoredFinding.rule_id.in_(flt.rules))
    for column, value in (
        (StoredFinding.account, flt.account),
        (StoredFinding.region, flt.region),
        (StoredFinding.cluster, flt.cluster),
        (ClusterLatest.environment, flt.environment),
        (ClusterLatest.name, flt.name),
    ):
        if value:
            query = query.where(column == value)
    if flt.production is not None:
        query = query.where(ClusterLatest.production.is_(flt.production))
    return query


_ORDER: dict[FindingSort, tuple[Any, ...]] = {
    "severity": (_SEVERITY_RANK, _STATE_RANK, StoredFinding.cluster, StoredFinding.rule_id),
    "state": (_STATE_RANK, _SEVERITY_RANK, StoredFinding.cluster, StoredFinding.rule_id),
    "last_seen": (StoredFinding.last_seen.desc(), _SEVERITY_RANK),
    "first_seen": (StoredFinding.first_seen, _SEVERITY_RANK),
    "cluster": (StoredFinding.cluster, _SEVERITY_RANK, StoredFinding.rule_id),
    "rule": (StoredFinding.rule_id, _SEVERITY_RANK, StoredFinding.cluster),
}


_DETAILS = (StoredFinding.message, StoredFinding.evidence, StoredFinding.remediation)


def search_findings(
    engine: Engine, flt: FindingFilter, *, limit: int, offset: int = 0, details: bool = False
) -> list[dict[str, Any]]:
    """One page of the findings ``flt`` selects, in its sort order (fingerprint breaks ties)."""
    query = (
        _where(select(*_COLUMNS, *(_DETAILS if details else ())), flt)
        .order_by(*_ORDER[flt.sort], StoredFinding.fingerprint)
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [
        {
            "fingerprint": r.fingerprint,
            "rule_id": r.rule_id,
            "severity": r.severity,
            "status": r.status,
            "state": r.state,
            "suppressed": r.suppressed,
            "suppression": _suppression(r.suppression_reason, r.suppression_expires, r.suppressed),
            "cluster": r.cluster,
            "cluster_name": r.cluster_name,
            "account": r.account,
            "region": r.region,
            "environment": r.environment,
            "production": r.production,
            "resource": r.resource,
            "title": r.title,
            "first_seen": iso(r.first_seen),
            "last_seen": iso(r.last_seen),
            "resolved_at": iso(_resolved_at(r.state, r.resolved_at, r.last_judged_at)),
        }
        for r in rows
    ]
    if details:
        for item, r in zip(items, rows, strict=True):
            item.update(message=r.message, evidence=r.evidence, remediation=r.remediation)
    return items


def _suppression(
    reason: str | None, expires: str | None, suppressed: bool
) -> dict[str, Any] | None:
    """The suppression last reported; ``expired`` when the report found it so or its date has
    passed since (an expired suppression covers nothing: the failure counts again)."""
    if reason is None:
        return None
    today = dt.datetime.now(dt.UTC).date().isoformat()
    expired = not suppressed or (expires is not None and expires < today)
    return {"reason": reason, "expires": expires, "expired": expired}


def _resolved_at(
    state: str, resolved_at: dt.datetime | None, judged: dt.datetime | None
) -> dt.datetime | None:
    """When a resolved finding stopped being current (its incident's close, or the clean read)."""
    if state != "resolved":
        return None
    return resolved_at or judged


def count_findings_matching(engine: Engine, flt: FindingFilter) -> int:
    query = _where(select(func.count()).select_from(StoredFinding), flt)
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


IncidentState = Literal["open", "resolved", "all"]


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to list. ``mttr``: only those the MTTR KPI averages (CNI001, CNI030-032
    fixed, not suppressed) closed from ``since``."""

    state: IncidentState = "all"
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    cluster: str | None = None
    since: dt.datetime | None = None
    mttr: bool = False


def _incidents_where(query: AnySelect, flt: IncidentFilter) -> AnySelect:
    query = query.outerjoin(ClusterLatest, ClusterLatest.arn == Incident.cluster)
    if flt.state == "open" and not flt.mttr:
        query = query.where(Incident.resolved_at.is_(None))
    elif flt.state == "resolved" or flt.mttr:
        query = query.where(Incident.resolved_at.is_not(None))
    rules: Sequence[str] = flt.rules or (MTTR_RULES if flt.mttr else ())
    if flt.mttr:
        rules = [r for r in rules if r in MTTR_RULES]
        query = query.where(Incident.resolution == "fixed")
    if rules:
        query = query.where(Incident.rule_id.in_(rules))
    if flt.severities:
        query = query.where(Incident.severity.in_(flt.severities))
    if flt.cluster:
        query = query.where(Incident.cluster == flt.cluster)
    if flt.since is not None:
        stamp = Incident.resolved_at if flt.mttr else Incident.opened_at
        query = query.where(stamp >= flt.since)
    return query


def search_incidents(
    engine: Engine, flt: IncidentFilter, *, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    """One page of incidents, newest opened first, each with its time to resolve."""
    query = (
        _incidents_where(
            select(Incident, ClusterLatest.name.label("cluster_name")).select_from(Incident), flt
        )
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    items = []
    for row in rows:
        opened, resolved = row.opened_at, row.resolved_at
        seconds = (as_utc(resolved) - as_utc(opened)).total_seconds() if resolved else None
        items.append(
            {
                "id": row.id,
                "rule_id": row.rule_id,
                "severity": row.severity,
                "cluster": row.cluster,
                "cluster_name": row.cluster_name,
                "opened_at": iso(opened),
                "resolved_at": iso(resolved),
                "resolution": row.resolution,
                "seconds_to_resolve": seconds,
            }
        )
    return items


def count_incidents_matching(engine: Engine, flt: IncidentFilter) -> int:
    query = _incidents_where(select(func.count()).select_from(Incident), flt)
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)
