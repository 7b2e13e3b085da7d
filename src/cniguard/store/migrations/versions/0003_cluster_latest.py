"""Pointer to each cluster's latest observation, so pages do not rank the whole history.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_latest",
        sa.Column("arn", sa.String(512), primary_key=True),
        sa.Column(
            "scan_cluster_id",
            sa.Integer,
            sa.ForeignKey("scan_clusters.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        """
        INSERT INTO cluster_latest (arn, scan_cluster_id, generated_at)
        SELECT arn, id, generated_at FROM (
            SELECT sc.arn, sc.id, s.generated_at,
                   ROW_NUMBER() OVER (PARTITION BY sc.arn
                                      ORDER BY s.generated_at DESC, s.id DESC) AS rank
            FROM scan_clusters sc JOIN scans s ON s.id = sc.scan_id
        ) ranked
        WHERE rank = 1
        """
    )


def downgrade() -> None:
    op.drop_table("cluster_latest")
