"""The suppression that covered each finding when last reported: its reason and expiry date, so
the dashboard shows why a finding is suppressed, until when, and flags an expired one.

Findings stored before this revision keep NULL: their reports are not kept, so the reason is not
known (the dashboard says so).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("findings", sa.Column("suppression_reason", sa.Text(), nullable=True))
    op.add_column("findings", sa.Column("suppression_expires", sa.String(32), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), as in 0005: a batch copy would cascade into incidents.
    op.drop_column("findings", "suppression_expires")
    op.drop_column("findings", "suppression_reason")
