"""Initial schema: scans, clusters per scan, findings by fingerprint, incidents.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generated_at", TS, nullable=False, index=True),
        sa.Column("day", sa.String(10), nullable=False, index=True),
        sa.Column("stored_at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=True),
        sa.Column("coverage", sa.JSON, nullable=False),
        sa.Column("kpis", sa.JSON, nullable=False),
    )
    op.create_table(
        "scan_clusters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "scan_id",
            sa.Integer,
            sa.ForeignKey("scans.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("arn", sa.String(512), nullable=False, index=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("environment", sa.String(256), nullable=True),
        sa.Column("production", sa.Boolean, nullable=False),
        sa.Column("identity_mode", sa.String(32), nullable=False),
        sa.Column("compliant", sa.Boolean, nullable=True),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("stuck_pods", sa.Integer, nullable=True),
        sa.Column("notready_nodes", sa.Integer, nullable=True),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(128), nullable=False, unique=True),
        sa.Column("rule_id", sa.String(16), nullable=False, index=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("suppressed", sa.Boolean, nullable=False),
        sa.Column("cluster", sa.String(512), nullable=False, index=True),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("remediation", sa.Text, nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("is_open", sa.Boolean, nullable=False, index=True),
        sa.Column("last_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "finding_id",
            sa.Integer,
            sa.ForeignKey("findings.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("rule_id", sa.String(16), nullable=False, index=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("cluster", sa.String(512), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("opened_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
        sa.Column("resolved_at", TS, nullable=True, index=True),
        sa.Column("resolved_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=True),
        sa.Column("resolution", sa.String(16), nullable=True),
    )


def downgrade() -> None:
    for table in ("incidents", "findings", "scan_clusters", "scans"):
        op.drop_table(table)
