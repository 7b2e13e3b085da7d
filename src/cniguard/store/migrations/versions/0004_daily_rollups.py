"""Per-day rollups for the KPI trend, the latest observation copied into ``cluster_latest``, and
indexes for the pages; all backfilled from the stored history.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MICROSECOND = dt.timedelta(microseconds=1)
LATEST_COPIES = (  # scan_clusters columns copied into cluster_latest, and whether they are required
    ("scan_id", sa.Integer, True),
    ("name", sa.String(256), True),
    ("account", sa.String(32), True),
    ("region", sa.String(32), True),
    ("environment", sa.String(256), False),
    ("production", sa.Boolean, True),
    ("identity_mode", sa.String(32), True),
    ("compliant", sa.Boolean, False),
    ("complete", sa.Boolean, True),
    ("stuck_pods", sa.Integer, False),
    ("notready_nodes", sa.Integer, False),
)


def _copy_latest_observation() -> None:
    with op.batch_alter_table("cluster_latest") as batch:
        for name, kind, _required in LATEST_COPIES:
            batch.add_column(sa.Column(name, kind, nullable=True))
    names = [name for name, _kind, _required in LATEST_COPIES]
    latest = sa.table("cluster_latest", sa.column("scan_cluster_id"), *map(sa.column, names))
    observed = sa.table("scan_clusters", sa.column("id"), *map(sa.column, names))
    op.execute(
        latest.update().values(
            {
                name: sa.select(observed.c[name])
                .where(observed.c.id == latest.c.scan_cluster_id)
                .scalar_subquery()
                for name in names
            }
        )
    )
    with op.batch_alter_table("cluster_latest") as batch:
        for name, kind, required in LATEST_COPIES:
            if required:
                batch.alter_column(name, existing_type=kind, nullable=False)


def upgrade() -> None:
    _copy_latest_observation()
    op.create_index("ix_incidents_cluster", "incidents", ["cluster"])
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"])
    op.create_index(
        "ix_findings_listing", "findings", ["is_open", "cluster", "rule_id", "fingerprint"]
    )
    op.create_table(
        "cluster_day",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("arn", sa.String(512), primary_key=True),
        sa.Column(
            "scan_cluster_id",
            sa.Integer,
            sa.ForeignKey("scan_clusters.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("generated_at", TS, nullable=False),
    )
    op.create_table(
        "fleet_daily",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("identity_mode", sa.String(32), primary_key=True),
        sa.Column("production", sa.Boolean, primary_key=True),
        sa.Column("compliant", sa.Boolean, primary_key=True),
        sa.Column("complete", sa.Boolean, primary_key=True),
        sa.Column("clusters", sa.Integer, nullable=False),
    )
    incident_daily = op.create_table(
        "incident_daily",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("rule_id", sa.String(16), primary_key=True),
        sa.Column("severity", sa.String(16), primary_key=True),
        sa.Column("opened", sa.Integer, nullable=False),
        sa.Column("closed", sa.Integer, nullable=False),
        sa.Column("fixed", sa.Integer, nullable=False),
        sa.Column("fixed_us", sa.BigInteger, nullable=False),
    )
    op.execute(
        """
        INSERT INTO cluster_day (day, arn, scan_cluster_id, generated_at)
        SELECT day, arn, id, generated_at FROM (
            SELECT s.day, sc.arn, sc.id, s.generated_at,
                   ROW_NUMBER() OVER (PARTITION BY s.day, sc.arn
                                      ORDER BY s.generated_at DESC, s.id DESC) AS rank
            FROM scan_clusters sc JOIN scans s ON s.id = sc.scan_id
        ) ranked
        WHERE rank = 1
        """
    )
    op.execute(
        """
        INSERT INTO fleet_daily (day, identity_mode, production, compliant, complete, clusters)
        SELECT cd.day, sc.identity_mode, sc.production, COALESCE(sc.compliant, false),
               sc.complete, COUNT(*)
        FROM cluster_day cd JOIN scan_clusters sc ON sc.id = cd.scan_cluster_id
        GROUP BY cd.day, sc.identity_mode, sc.production, COALESCE(sc.compliant, false),
                 sc.complete
        """
    )
    op.bulk_insert(incident_daily, _incident_days())


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _incident_days() -> list[dict[str, Any]]:
    """Every stored incident counted once on its opening day and once on its closing day."""
    incidents = sa.table(
        "incidents",
        sa.column("rule_id"),
        sa.column("severity"),
        sa.column("opened_at", TS),
        sa.column("resolved_at", TS),
        sa.column("resolution"),
    )
    days: dict[tuple[str, str, str], list[int]] = {}

    def slot(at: dt.datetime, rule_id: str, severity: str) -> list[int]:
        return days.setdefault((at.date().isoformat(), rule_id, severity), [0, 0, 0, 0])

    for rule_id, severity, opened_at, resolved_at, resolution in op.get_bind().execute(
        sa.select(
            incidents.c.rule_id,
            incidents.c.severity,
            incidents.c.opened_at,
            incidents.c.resolved_at,
            incidents.c.resolution,
        )
    ):
        opened = _utc(opened_at)
        slot(opened, rule_id, severity)[0] += 1
        if resolved_at is None:
            continue
        resolved = _utc(resolved_at)
        closing = slot(resolved, rule_id, severity)
        closing[1] += 1
        if resolution == "fixed":
            closing[2] += 1
            closing[3] += (resolved - opened) // MICROSECOND
    return [
        {
            "day": day,
            "rule_id": rule_id,
            "severity": severity,
            "opened": opened,
            "closed": closed,
            "fixed": fixed,
            "fixed_us": fixed_us,
        }
        for (day, rule_id, severity), (opened, closed, fixed, fixed_us) in sorted(days.items())
    ]


def downgrade() -> None:
    for table in ("incident_daily", "fleet_daily", "cluster_day"):
        op.drop_table(table)
    op.drop_index("ix_findings_listing", "findings")
    op.drop_index("ix_incidents_opened_at", "incidents")
    op.drop_index("ix_incidents_cluster", "incidents")
    with op.batch_alter_table("cluster_latest") as batch:
        for name, _kind, _required in LATEST_COPIES:
            batch.drop_column(name)
