"""Writing a report into the store: one transaction per scan, findings tracked by fingerprint."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from cniguard.model.finding import Finding, Report
from cniguard.store.database import StoreError, get_engine, with_write_retries
from cniguard.store.rollup import CHUNK, IncidentTally, chunks, roll_cluster_day
from cniguard.store.schema import ClusterLatest, Incident, Scan, ScanCluster, StoredFinding
from cniguard.store.scope import (
    RunError,
    RunTag,
    ScanScope,
    as_utc,
    cluster_gaps,
    parse_time,
    run_of,
    strongest,
)

STUCK_PODS_RULE = "CNI030"
NOTREADY_NODES_RULE = "CNI031"
COVERAGE_RULE = "CNI090"  # fails (or is unknown) when part of a cluster could not be read
LATEST_COPIES = (
    "scan_id",
    "name",
    "account",
    "region",
    "environment",
    "production",
    "identity_mode",
    "compliant",
    "complete",
    "stuck_pods",
    "notready_nodes",
    "basis",
)


def save_report(url: str, report: Report) -> int:
    """Store ``report`` in the database at ``url`` ("default": the user's SQLite); its scan id."""
    engine = get_engine(url)
    return with_write_retries(engine, lambda conn: write_report(conn, report))


def stored_scan_of(url: str, report: Report) -> int | None:
    """The scan that already holds this report's saved inventory (same collection time and
    fingerprint), if any: storing it again adds nothing."""
    with Session(get_engine(url)) as session:
        return _same_inventory(session, report)


def _same_inventory(session: Session, report: Report) -> int | None:
    fingerprint = report.coverage.get("inventory_fingerprint")
    if not isinstance(fingerprint, str):
        return None  # a live scan: every run is a new observation
    at = parse_time(report.generated_at)
    same_day = select(Scan).where(Scan.day == at.date().isoformat(), Scan.kind == report.kind)
    for scan in session.scalars(same_day):
        if as_utc(scan.generated_at) == at and (
            scan.coverage.get("inventory_fingerprint") == fingerprint
        ):
            return scan.id
    return None


def evidence_count(evidence: dict[str, Any], key: str) -> int:
    """How many pods/nodes a failing symptom finding counts (at least one when it omits it)."""
    value = evidence.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _symptoms(findings: Iterable[Finding], rule_id: str, key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        if f.rule_id == rule_id and f.status == "fail":
            counts[f.cluster] = counts.get(f.cluster, 0) + evidence_count(f.evidence, key)
    return counts


def write_report(conn: Connection, report: Report) -> int:
    """Insert the scan, its clusters and the findings' new lifecycle state; return the scan id."""
    at = parse_time(report.generated_at)
    scope = ScanScope(report)
    duration = report.coverage.get("duration_seconds")
    try:
        run = run_of(report)
    except RunError as exc:
        raise StoreError(str(exc)) from None
    with Session(bind=conn, autoflush=False) as session:
        stored = _same_inventory(session, report)
        if stored is not None:
            return stored
        if run is not None:
            _check_run(session, run)
        scan = Scan(
            generated_at=at,
            day=at.date().isoformat(),
            stored_at=dt.datetime.now(dt.UTC),
            kind=report.kind,
            tool_version=report.tool_version,
            duration_seconds=float(duration) if isinstance(duration, int | float) else None,
            coverage=report.coverage,
            kpis=report.kpis,
            run_id=run.run_id if run is not None else None,
            shard_index=run.index if run is not None else None,
            shard_count=run.count if run is not None else None,
        )
        session.add(scan)
        session.flush()
        stuck = _symptoms(report.findings, STUCK_PODS_RULE, "stuck_pods")
        notready = _symptoms(report.findings, NOTREADY_NODES_RULE, "not_ready_nodes")
        incomplete = {
            f.cluster for f in report.findings if f.rule_id == COVERAGE_RULE and f.status != "pass"
        }
        rows = [
            ScanCluster(
                scan_id=scan.id,
                arn=c.arn,
                name=c.name,
                account=c.account,
                region=c.region,
                environment=c.environment,
                production=c.production,
                identity_mode=c.cni_identity,
                compliant=c.compliant,
                complete=c.arn in scope.read_clusters
                and c.arn not in incomplete
                and not cluster_gaps(c, scope.gaps),
                stuck_pods=stuck.get(c.arn, 0) if c.arn in scope.read_clusters else None,
                notready_nodes=notready.get(c.arn, 0) if c.arn in scope.read_clusters else None,
                basis=c.basis,
            )
            for c in report.clusters
        ]
        session.add_all(rows)
        session.flush()
        _point_latest(session, rows, at)
        roll_cluster_day(session, rows, scan.day, at)
        _track_findings(session, scan.id, at, report, scope)
        session.flush()
        return scan.id


def _check_run(session: Session, run: RunTag) -> None:
    """Every shard of one run must agree on how many shards it has."""
    query = select(Scan.shard_count).where(Scan.run_id == run.run_id).distinct()
    counts = {int(c) for c in session.scalars(query) if c is not None}
    if counts - {run.count}:
        raise StoreError(
            f"run {run.run_id} was stored with {', '.join(str(c) for c in sorted(counts))} "
            f"shard(s); this report says shard {run.index} of {run.count}"
        )


def _point_latest(session: Session, rows: list[ScanCluster], at: dt.datetime) -> None:
    """Make this scan each cluster's latest observation, unless a newer scan already holds it."""
    current: dict[str, ClusterLatest] = {}
    for chunk in chunks(sorted({r.arn for r in rows})):
        query = select(ClusterLatest).where(ClusterLatest.arn.in_(chunk))
        current.update((p.arn, p) for p in session.scalars(query))
    for row in rows:
        pointer = current.get(row.arn)
        if pointer is None:
            pointer = ClusterLatest(arn=row.arn)
            session.add(pointer)
            current[row.arn] = pointer
        elif as_utc(pointer.generated_at) > at:
            continue
        pointer.scan_cluster_id = row.id
        pointer.generated_at = at
        for column in LATEST_COPIES:
            setattr(pointer, column, getattr(row, column))


def _load(
    session: Session, latest: dict[str, Finding], read_clusters: Iterable[str]
) -> dict[str, StoredFinding]:
    """Stored findings this report may change: those it names and all of the clusters it read
    (open ones it may resolve, resolved ones it judges again by their absence)."""
    records: dict[str, StoredFinding] = {}
    for chunk in chunks(sorted(latest)):
        query = select(StoredFinding).where(StoredFinding.fingerprint.in_(chunk))
        for rec in session.scalars(query):
            records[rec.fingerprint] = rec
    for chunk in chunks(sorted(read_clusters)):
        query = select(StoredFinding).where(StoredFinding.cluster.in_(chunk))
        for rec in session.scalars(query):
            records[rec.fingerprint] = rec
    return records


def _open_incidents(session: Session, records: Iterable[StoredFinding]) -> dict[int, Incident]:
    ids = [r.id for r in records if r.is_open]
    found: dict[int, Incident] = {}
    for start in range(0, len(ids), CHUNK):
        query = select(Incident).where(
            Incident.finding_id.in_(ids[start : start + CHUNK]), Incident.resolved_at.is_(None)
        )
        for incident in session.scalars(query):
            found[incident.finding_id] = incident
    return found


def _track_findings(
    session: Session, scan_id: int, at: dt.datetime, report: Report, scope: ScanScope
) -> None:
    latest = strongest(report.findings)
    records = _load(session, latest, scope.read_clusters)
    incidents = _open_incidents(session, records.values())
    tally = IncidentTally()

    def close(rec: StoredFinding, resolution: str) -> None:
        rec.is_open = False
        rec.resolved_at = at
        incident = incidents.pop(rec.id, None)
        if incident is not None:
            incident.resolved_at = at
            incident.resolved_scan_id = scan_id
            incident.resolution = resolution
            tally.closed(incident, at, resolution)

    def open_incident(rec: StoredFinding, finding: Finding) -> None:
        session.flush()
        rec.is_open = True
        rec.resolved_at = None
        incident = Incident(
            finding_id=rec.id,
            rule_id=finding.rule_id,
            severity=finding.severity,
            cluster=finding.cluster,
            opened_at=at,
            opened_scan_id=scan_id,
        )
        session.add(incident)
        tally.opened(incident, at)

    for fingerprint, finding in latest.items():
        rec = records.get(fingerprint)
        if rec is not None and newer_than(rec, at):
            if finding.active and late_failure_opens(rec, at):
                rec.first_seen = min(as_utc(rec.first_seen), at)
                rec.last_judged_at = at
                open_incident(rec, finding)
            continue
        if finding.status == "pass":
            if rec is not None:
                rec.status = "pass"
                rec.last_judged_at = at
                if rec.is_open:
                    close(rec, "fixed")
            continue
        if rec is None:
            rec = StoredFinding(
                fingerprint=fingerprint,
                first_seen=at,
                last_seen=at,
                resolved_at=None,
                is_open=False,
            )
            session.add(rec)
            records[fingerprint] = rec
        _copy_details(rec, finding, scan_id)
        rec.last_seen = at
        if finding.status == "fail":
            rec.last_judged_at = at
        if finding.active and not rec.is_open:
            open_incident(rec, finding)
        elif finding.status == "fail" and not finding.active and rec.is_open:
            close(rec, "suppressed")

    for fingerprint, rec in records.items():
        if fingerprint in latest or newer_than(rec, at):
            continue
        if scope.can_resolve(rec.rule_id, rec.cluster, rec.account, rec.region, rec.resource):
            rec.last_judged_at = at
            if rec.is_open:
                close(rec, "fixed")
    tally.apply(session)


def newer_than(rec: StoredFinding, at: dt.datetime) -> bool:
    """Whether the store holds an observation of ``rec`` newer than a report stamped ``at``.

    Its last failure or ``unknown`` (``last_seen``) or its last judgement (a failure, a pass or a
    clean read; every resolution is one): a report stored late, older than either, neither
    resolves, re-opens nor rewrites the finding, so no incident closes before it opened and a
    failure older than a later pass does not re-open what that pass decided.
    """
    return max(as_utc(rec.last_seen), _judged(rec)) > at


def late_failure_opens(rec: StoredFinding, at: dt.datetime) -> bool:
    """Whether an active failure stored late still opens ``rec``: only when every newer
    observation is ``unknown`` (not a judgement, nor an open incident), as it would have
    stayed open had the reports come in order. Its details stay those of the newer report.
    """
    return not rec.is_open and rec.status == "unknown" and _judged(rec) <= at


def _judged(rec: StoredFinding) -> dt.datetime:
    """When ``rec`` was last judged; the earliest time there is when it never was."""
    if rec.last_judged_at is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return as_utc(rec.last_judged_at)


def _copy_details(rec: StoredFinding, finding: Finding, scan_id: int) -> None:
    rec.rule_id = finding.rule_id
    rec.severity = finding.severity
    rec.status = finding.status
    rec.suppressed = finding.suppression is not None and not finding.suppression.expired
    rec.suppression_reason = finding.suppression.reason if finding.suppression else None
    rec.suppression_expires = finding.suppression.expires if finding.suppression else None
    rec.cluster = finding.cluster
    rec.account = finding.account
    rec.region = finding.region
    rec.resource = finding.resource
    rec.title = finding.title
    rec.message = finding.message
    rec.evidence = finding.evidence
    rec.remediation = finding.remediation
    rec.last_scan_id = scan_id
