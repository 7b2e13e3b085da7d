"""Read side of the store: what the API, the pages and the metrics show (plain JSON-ready dicts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from sqlalchemy import Connection, Engine, Row, Select, func, or_, select
from sqlalchemy.orm import Session

from cniguard.store.rollup import chunks
from cniguard.store.schema import ClusterLatest, Incident, Scan, ScanCluster, StoredFinding
from cniguard.store.scope import as_utc

FindingState = Literal["open", "resolved", "all"]
AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"


def iso(value: dt.datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class ClusterFilter:
    account: str | None = None
    region: str | None = None
    environment: str | None = None
    mode: str | None = None
    production: bool | None = None
    complete: bool | None = None
    compliant: bool | None = None  # False: not compliant (no or unknown verdict) where applicable


def latest_cluster_rows() -> AnySelect:
    """Each cluster's most recent observation, as copied into ``cluster_latest``."""
    return select(
        ClusterLatest.arn,
        ClusterLatest.name,
        ClusterLatest.account,
        ClusterLatest.region,
        ClusterLatest.environment,
        ClusterLatest.production,
        ClusterLatest.identity_mode,
        ClusterLatest.compliant,
        ClusterLatest.basis,
        ClusterLatest.complete,
        ClusterLatest.stuck_pods,
        ClusterLatest.notready_nodes,
        ClusterLatest.scan_id,
        ClusterLatest.generated_at,
    )


def cluster_item(row: Row[Any], open_findings: int) -> dict[str, Any]:
    """One ``latest_cluster_rows`` row as the API shows it."""
    return {
        "arn": row.arn,
        "name": row.name,
        "account": row.account,
        "region": row.region,
        "environment": row.environment,
        "production": row.production,
        "cni_identity": row.identity_mode,
        "compliant": row.compliant,
        "basis": row.basis,  # what the verdict rests on (pods, service_account, ...); None before 0007
        "complete": row.complete,
        "stuck_pods": row.stuck_pods,
        "notready_nodes": row.notready_nodes,
        "open_findings": open_findings,
        "last_scan_id": row.scan_id,
        "last_scanned": iso(row.generated_at),
    }


def open_counts_by_cluster(conn: Connection, arns: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for chunk in chunks(arns):
        query = (
            select(StoredFinding.cluster, func.count())
            .where(StoredFinding.is_open.is_(True), StoredFinding.cluster.in_(chunk))
            .group_by(StoredFinding.cluster)
        )
        counts.update((cluster, int(count)) for cluster, count in conn.execute(query))
    return counts


def _filtered(query: AnySelect, flt: ClusterFilter | None) -> AnySelect:
    flt = flt or ClusterFilter()
    for column, value in (
        (ClusterLatest.account, flt.account),
        (ClusterLatest.region, flt.region),
        (ClusterLatest.environment, flt.environment),
        (ClusterLatest.identity_mode, flt.mode),
    ):
        if value:
            query = query.where(column == value)
    for flag, wanted in (
        (ClusterLatest.production, flt.production),
        (ClusterLatest.complete, flt.complete),
    ):
        if wanted is not None:
            query = query.where(flag.is_(wanted))
    if flt.compliant is True:
        query = query.where(ClusterLatest.compliant.is_(True))
    elif flt.compliant is False:
        query = query.where(
            ClusterLatest.identity_mode != "not_applicable",
            or_(ClusterLatest.compliant.is_(False), ClusterLatest.compliant.is_(None)),
        )
    return query


def list_clusters(
    engine: Engine,
    flt: ClusterFilter | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Clusters at their latest scan, by account, region and name; ``limit`` from ``offset``."""
    query = _filtered(latest_cluster_rows(), flt).order_by(
        ClusterLatest.account, ClusterLatest.region, ClusterLatest.name, ClusterLatest.arn
    )
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        counts = open_counts_by_cluster(conn, [r.arn for r in rows])
    return [cluster_item(r, counts.get(r.arn, 0)) for r in rows]


def count_clusters(engine: Engine, flt: ClusterFilter | None = None) -> int:
    query = _filtered(select(func.count()).select_from(ClusterLatest), flt)
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def get_cluster(engine: Engine, arn: str) -> dict[str, Any] | None:
    """One cluster at its latest scan, or None when the store never saw it."""
    with engine.connect() as conn:
        row = conn.execute(latest_cluster_rows().where(ClusterLatest.arn == arn)).first()
        if row is None:
            return None
        return cluster_item(row, open_counts_by_cluster(conn, [arn]).get(arn, 0))


def cluster_choices(engine: Engine) -> dict[str, list[str]]:
    """The distinct values each cluster filter can take (over each cluster's latest scan)."""
    keys = {
        "account": ClusterLatest.account,
        "region": ClusterLatest.region,
        "environment": ClusterLatest.environment,
        "mode": ClusterLatest.identity_mode,
    }
    values: dict[str, set[str]] = {key: set() for key in keys}
    query = select(*keys.values()).distinct()
    with engine.connect() as conn:
        for row in conn.execute(query):
            for key, value in zip(keys, row, strict=True):
                if value is not None:
                    values[key].add(str(value))
    return {key: sorted(found) for key, found in values.items()}


_FINDING_COLUMNS = (
    StoredFinding.fingerprint,
    StoredFinding.rule_id,
    StoredFinding.severity,
    StoredFinding.status,
    StoredFinding.is_open,
    StoredFinding.cluster,
    StoredFinding.account,
    StoredFinding.region,
    StoredFinding.resource,
    StoredFinding.title,
    StoredFinding.first_seen,
    StoredFinding.last_seen,
    StoredFinding.resolved_at,
)
_DETAIL_COLUMNS = (
    StoredFinding.message,
    StoredFinding.evidence,
    StoredFinding.remediation,
    StoredFinding.suppressed,
)


def finding_item(rec: Row[Any], *, details: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "fingerprint": rec.fingerprint,
        "rule_id": rec.rule_id,
        "severity": rec.severity,
        "status": rec.status,
        "state": "open" if rec.is_open else ("resolved" if rec.resolved_at else rec.status),
        "cluster": rec.cluster,
        "account": rec.account,
        "region": rec.region,
        "resource": rec.resource,
        "title": rec.title,
        "first_seen": iso(rec.first_seen),
        "last_seen": iso(rec.last_seen),
        "resolved_at": iso(rec.resolved_at),
    }
    if details:
        item.update(
            message=rec.message,
            evidence=rec.evidence,
            remediation=rec.remediation,
            suppressed=rec.suppressed,
        )
    return item


def _in_state(query: AnySelect, state: FindingState, cluster: str | None) -> AnySelect:
    if state == "open":
        query = query.where(StoredFinding.is_open.is_(True))
    elif state == "resolved":
        query = query.where(
            StoredFinding.is_open.is_(False), StoredFinding.resolved_at.is_not(None)
        )
    if cluster is not None:
        query = query.where(StoredFinding.cluster == cluster)
    return query


def list_findings(
    engine: Engine,
    state: FindingState = "all",
    *,
    cluster: str | None = None,
    details: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Findings by state: open (active failures), resolved (closed incidents), or all stored."""
    columns = (*_FINDING_COLUMNS, *_DETAIL_COLUMNS) if details else _FINDING_COLUMNS
    query = _in_state(select(*columns), state, cluster).order_by(
        StoredFinding.cluster, StoredFinding.rule_id, StoredFinding.fingerprint
    )
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with engine.connect() as conn:
        return [finding_item(r, details=details) for r in conn.execute(query)]


def count_findings(
    engine: Engine, state: FindingState = "all", *, cluster: str | None = None
) -> int:
    query = _in_state(select(func.count()).select_from(StoredFinding), state, cluster)
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def list_scans(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    query = select(Scan).order_by(Scan.generated_at.desc(), Scan.id.desc()).limit(limit)
    with Session(engine) as session:
        scans = session.scalars(query).all()
        clusters = {
            scan_id: int(count)
            for scan_id, count in session.execute(
                select(ScanCluster.scan_id, func.count())
                .where(ScanCluster.scan_id.in_([scan.id for scan in scans]))
                .group_by(ScanCluster.scan_id)
            )
        }
        return [
            {
                "id": scan.id,
                "generated_at": iso(scan.generated_at),
                "kind": scan.kind,
                "tool_version": scan.tool_version,
                "duration_seconds": scan.duration_seconds,
                "clusters": clusters.get(scan.id, 0),
                "gaps": len(scan.coverage.get("gaps") or []),
            }
            for scan in scans
        ]


def cluster_history(engine: Engine, arn: str, limit: int = 90) -> list[dict[str, Any]]:
    """How one cluster looked in each of its recent scans, newest first."""
    query = (
        select(ScanCluster, Scan)
        .join(Scan, Scan.id == ScanCluster.scan_id)
        .where(ScanCluster.arn == arn)
        .order_by(Scan.generated_at.desc(), Scan.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return [
            {
                "scan_id": scan.id,
                "generated_at": iso(scan.generated_at),
                "cni_identity": sc.identity_mode,
                "compliant": sc.compliant,
                "basis": sc.basis,
                "complete": sc.complete,
            }
            for sc, scan in session.execute(query)
        ]


def cluster_incidents(engine: Engine, arn: str) -> list[dict[str, Any]]:
    query = select(Incident).where(Incident.cluster == arn).order_by(Incident.opened_at.desc())
    with Session(engine) as session:
        return [
            {
                "rule_id": i.rule_id,
                "severity": i.severity,
                "opened_at": iso(i.opened_at),
                "resolved_at": iso(i.resolved_at),
                "resolution": i.resolution,
            }
            for i in session.scalars(query)
        ]


def freshness(engine: Engine) -> list[dict[str, Any]]:
    """Per account and region: how many clusters, and their oldest and newest latest scan."""
    query = (
        select(
            ClusterLatest.account,
            ClusterLatest.region,
            func.count(),
            func.min(ClusterLatest.generated_at),
            func.max(ClusterLatest.generated_at),
        )
        .group_by(ClusterLatest.account, ClusterLatest.region)
        .order_by(func.min(ClusterLatest.generated_at), ClusterLatest.account, ClusterLatest.region)
    )
    with engine.connect() as conn:
        return [
            {
                "account": account,
                "region": region,
                "clusters": int(count),
                "oldest_scan": as_utc(oldest),
                "newest_scan": as_utc(newest),
            }
            for account, region, count, oldest, newest in conn.execute(query)
        ]
