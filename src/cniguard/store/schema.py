"""Tables of the history store (SQLAlchemy 2 declarative models).

Alembic migrations in ``store/migrations`` create these; the models only describe them for queries.
Times are stored as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, dt.datetime: DateTime(timezone=True)}


class Scan(Base):
    """One stored report."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generated_at: Mapped[dt.datetime] = mapped_column(index=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # UTC date of generated_at
    stored_at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(16))
    tool_version: Mapped[str] = mapped_column(String(64))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    coverage: Mapped[dict[str, Any]]
    kpis: Mapped[dict[str, Any]]
    # revision 0007: the run this report is one shard of (``--run-id``), shard i of N; None when
    # the report was stored on its own
    run_id: Mapped[str | None] = mapped_column(String(128), index=True)
    shard_index: Mapped[int | None] = mapped_column(Integer)
    shard_count: Mapped[int | None] = mapped_column(Integer)


class ScanCluster(Base):
    """A cluster as one scan saw it: identity mode, compliance, and whether it was fully read."""

    __tablename__ = "scan_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    arn: Mapped[str] = mapped_column(String(512), index=True)
    name: Mapped[str] = mapped_column(String(256))
    account: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str | None] = mapped_column(String(256))
    production: Mapped[bool] = mapped_column(Boolean)
    identity_mode: Mapped[str] = mapped_column(String(32))
    compliant: Mapped[bool | None] = mapped_column(Boolean)
    complete: Mapped[bool] = mapped_column(Boolean)  # read, and no coverage gap names it
    stuck_pods: Mapped[int | None] = mapped_column(Integer)
    notready_nodes: Mapped[int | None] = mapped_column(Integer)
    # revision 0007: what the verdict rests on (pods, service_account, add-on, aws_only); None
    # for scans stored before it was recorded
    basis: Mapped[str | None] = mapped_column(String(32))


class StoredFinding(Base):
    """A finding tracked across scans by its fingerprint (latest details win)."""

    __tablename__ = "findings"
    __table_args__ = (  # revision 0004: the listing order of each state, without a sort
        Index("ix_findings_listing", "is_open", "cluster", "rule_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    rule_id: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # as last seen: fail | unknown | pass
    suppressed: Mapped[bool] = mapped_column(Boolean)
    cluster: Mapped[str] = mapped_column(String(512), index=True)
    account: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    remediation: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[dt.datetime]
    last_seen: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    is_open: Mapped[bool] = mapped_column(Boolean, index=True)
    last_scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"))
    # revision 0005: the newest report that judged it (failed, passed or resolved it); None while
    # it has only ever been ``unknown``. A report older than this changes nothing about it.
    last_judged_at: Mapped[dt.datetime | None]
    # revision 0006: the suppression matched when last reported (also when expired), else None
    suppression_reason: Mapped[str | None] = mapped_column(Text)
    suppression_expires: Mapped[str | None] = mapped_column(String(32))  # ISO date


class Incident(Base):
    """One open period of a finding: opened by a failing scan, closed by a later clean read."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    cluster: Mapped[str] = mapped_column(String(512), index=True)  # indexed since 0004
    opened_at: Mapped[dt.datetime] = mapped_column(index=True)  # indexed since 0004
    opened_scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    resolved_scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"))
    resolution: Mapped[str | None] = mapped_column(String(16))  # fixed | suppressed


class AlertSent(Base):
    """A webhook alert delivered for an incident (revision 0002): never alert twice for one."""

    __tablename__ = "alerts_sent"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[dt.datetime]
    target: Mapped[str] = mapped_column(Text)


class ClusterLatest(Base):
    """Each cluster's most recent observation (revision 0003): the pages read this, not history.

    Since revision 0004 it holds a copy of that ``scan_clusters`` row, so no page joins history.
    """

    __tablename__ = "cluster_latest"

    arn: Mapped[str] = mapped_column(String(512), primary_key=True)
    scan_cluster_id: Mapped[int] = mapped_column(ForeignKey("scan_clusters.id", ondelete="CASCADE"))
    generated_at: Mapped[dt.datetime]
    scan_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(256))
    account: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str | None] = mapped_column(String(256))
    production: Mapped[bool] = mapped_column(Boolean)
    identity_mode: Mapped[str] = mapped_column(String(32))
    compliant: Mapped[bool | None] = mapped_column(Boolean)
    complete: Mapped[bool] = mapped_column(Boolean)
    stuck_pods: Mapped[int | None] = mapped_column(Integer)
    notready_nodes: Mapped[int | None] = mapped_column(Integer)
    # revision 0007: what the verdict rests on (pods, service_account, add-on, aws_only); None
    # for scans stored before it was recorded
    basis: Mapped[str | None] = mapped_column(String(32))


class ClusterDay(Base):
    """Each cluster's last observation of each UTC day (revision 0004): the daily trend's source."""

    __tablename__ = "cluster_day"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    arn: Mapped[str] = mapped_column(String(512), primary_key=True)
    scan_cluster_id: Mapped[int] = mapped_column(ForeignKey("scan_clusters.id", ondelete="CASCADE"))
    generated_at: Mapped[dt.datetime]


class FleetDay(Base):
    """How many ``cluster_day`` observations of a day share one KPI key (revision 0004)."""

    __tablename__ = "fleet_daily"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    identity_mode: Mapped[str] = mapped_column(String(32), primary_key=True)
    production: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    compliant: Mapped[bool] = mapped_column(Boolean, primary_key=True)  # compliant is True
    complete: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    clusters: Mapped[int] = mapped_column(Integer)


class IncidentDay(Base):
    """Incidents opened, closed and fixed per UTC day, rule and severity (revision 0004).

    ``fixed_us`` sums the open time, in microseconds, of the incidents fixed that day.
    """

    __tablename__ = "incident_daily"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    opened: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    fixed: Mapped[int] = mapped_column(Integer)
    fixed_us: Mapped[int] = mapped_column(BigInteger)
