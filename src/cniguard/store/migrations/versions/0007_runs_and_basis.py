"""Sharded runs and verdict bases: each scan may be shard i of N of one run (``--run-id``), and
each cluster observation keeps what its verdict rests on (``basis``).

Additive only: existing scans belong to no run and their clusters have no recorded basis (NULL).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scans", sa.Column("run_id", sa.String(128), nullable=True))
    op.add_column("scans", sa.Column("shard_index", sa.Integer(), nullable=True))
    op.add_column("scans", sa.Column("shard_count", sa.Integer(), nullable=True))
    op.create_index("ix_scans_run_id", "scans", ["run_id"])
    op.add_column("scan_clusters", sa.Column("basis", sa.String(32), nullable=True))
    op.add_column("cluster_latest", sa.Column("basis", sa.String(32), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35+), as in 0005: a batch copy would cascade deletes
    op.drop_column("cluster_latest", "basis")
    op.drop_column("scan_clusters", "basis")
    op.drop_index("ix_scans_run_id", table_name="scans")
    op.drop_column("scans", "shard_count")
    op.drop_column("scans", "shard_index")
    op.drop_column("scans", "run_id")
