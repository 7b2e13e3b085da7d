"""Read side of the store: what the API, the pages and the metrics show (plain JSON-ready dicts)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from cniguard.store.schema import ClusterLatest, Incident, Scan, ScanCluster, StoredFinding
from cniguard.store.scope import as_utc

FindingState = Literal["open", "resolved", "all"]


def iso(value: dt.datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class ClusterFilter:
    account: str | None = None
    region: str | None = None
    environment: str | None = None
    mode: str | None = None


def latest_cluster_rows() -> Select[ScanCluster, Scan]:
    """Each cluster's most recent observation, through the ``cluster_latest`` pointers."""
    return (
        select(ScanCluster, Scan)
        .join(ClusterLatest, ClusterLatest.scan_cluster_id == ScanCluster.id)
        .join(Scan, Scan.id == ScanCluster.scan_id)
    )


def cluster_item(row: ScanCluster, scan: Scan, open_findings: int) -> dict[str, Any]:
    return {
        "arn": row.arn,
        "name": row.name,
        "account": row.account,
        "region": row.region,
        "environment": row.environment,
        "production": row.production,
        "cni_identity": row.identity_mode,
        "compliant": row.compliant,
        "complete": row.complete,
        "stuck_pods": row.stuck_pods,
        "notready_nodes": row.notready_nodes,
        "open_findings": open_findings,
        "last_scan_id": scan.id,
        "last_scanned": iso(scan.generated_at),
    }


def open_counts_by_cluster(engine: Engine) -> dict[str, int]:
    query = (
        select(StoredFinding.cluster, func.count())
        .where(StoredFinding.is_open.is_(True))
        .group_by(StoredFinding.cluster)
    )
    with engine.connect() as conn:
        return {cluster: int(count) for cluster, count in conn.execute(query)}


def list_clusters(engine: Engine, flt: ClusterFilter | None = None) -> list[dict[str, Any]]:
    query = latest_cluster_rows()
    flt = flt or ClusterFilter()
    for column, value in (
        (ScanCluster.account, flt.account),
        (ScanCluster.region, flt.region),
        (ScanCluster.environment, flt.environment),
        (ScanCluster.identity_mode, flt.mode),
    ):
        if value:
            query = query.where(column == value)
    counts = open_counts_by_cluster(engine)
    query = query.order_by(ScanCluster.account, ScanCluster.region, ScanCluster.name)
    with Session(engine) as session:
        rows = session.execute(query)
        return [cluster_item(sc, scan, counts.get(sc.arn, 0)) for sc, scan in rows]


def cluster_choices(engine: Engine) -> dict[str, list[str]]:
    """The distinct values each cluster filter can take (over each cluster's latest scan)."""
    result: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for key, column in (
            ("account", ScanCluster.account),
            ("region", ScanCluster.region),
            ("environment", ScanCluster.environment),
            ("mode", ScanCluster.identity_mode),
        ):
            values = conn.scalars(
                select(column)
                .join(ClusterLatest, ClusterLatest.scan_cluster_id == ScanCluster.id)
                .where(column.is_not(None))
                .distinct()
            )
            result[key] = sorted(str(v) for v in values)
    return result


def finding_item(rec: StoredFinding, *, details: bool = False) -> dict[str, Any]:
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
            message=rec.message, evidence=rec.evidence, remediation=rec.remediation,
            suppressed=rec.suppressed,
        )
    return item


def list_findings(
    engine: Engine,
    state: FindingState = "all",
    *,
    cluster: str | None = None,
    details: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Findings by state: open (active failures), resolved (closed incidents), or all stored."""
    query = select(StoredFinding)
    if state == "open":
        query = query.where(StoredFinding.is_open.is_(True))
    elif state == "resolved":
        query = query.where(
            StoredFinding.is_open.is_(False), StoredFinding.resolved_at.is_not(None)
        )
    if cluster is not None:
        query = query.where(StoredFinding.cluster == cluster)
    query = query.order_by(StoredFinding.cluster, StoredFinding.rule_id, StoredFinding.fingerprint)
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        return [finding_item(r, details=details) for r in session.scalars(query)]


def list_scans(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    clusters = (
        select(ScanCluster.scan_id, func.count().label("n"))
        .group_by(ScanCluster.scan_id)
        .subquery()
    )
    query = (
        select(Scan, clusters.c.n)
        .outerjoin(clusters, clusters.c.scan_id == Scan.id)
        .order_by(Scan.generated_at.desc(), Scan.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return [
            {
                "id": scan.id,
                "generated_at": iso(scan.generated_at),
                "kind": scan.kind,
                "tool_version": scan.tool_version,
                "duration_seconds": scan.duration_seconds,
                "clusters": int(n or 0),
                "gaps": len(scan.coverage.get("gaps") or []),
            }
            for scan, n in session.execute(query)
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
