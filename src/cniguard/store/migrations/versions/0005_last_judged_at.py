"""When each finding was last judged (failed, passed or resolved), so a report stored late that is
older than that judgement neither re-opens, resolves nor rewrites the finding.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _judgements() -> list[dict[str, Any]]:
    """The newest judgement the stored history still shows for each finding.

    Its resolution, its last failure (``last_seen``, unless its last observation was ``unknown``)
    and the failure that opened its newest incident. A finding only ever ``unknown`` stays NULL:
    never judged. Passes that came after a resolution left no trace, so the value can be older
    than the real last judgement, never newer: a late report then acts as it did before 0005.
    """
    findings = sa.table(
        "findings",
        sa.column("id"),
        sa.column("status"),
        sa.column("last_seen", TS),
        sa.column("resolved_at", TS),
    )
    incidents = sa.table("incidents", sa.column("finding_id"), sa.column("opened_at", TS))
    bind = op.get_bind()
    opened: dict[int, dt.datetime] = dict(
        bind.execute(
            sa.select(incidents.c.finding_id, sa.func.max(incidents.c.opened_at)).group_by(
                incidents.c.finding_id
            )
        ).all()
    )
    judged = []
    for finding_id, status, last_seen, resolved_at in bind.execute(
        sa.select(findings.c.id, findings.c.status, findings.c.last_seen, findings.c.resolved_at)
    ):
        seen = (resolved_at, None if status == "unknown" else last_seen, opened.get(finding_id))
        times = [_utc(t) for t in seen if t is not None]
        if times:
            judged.append({"finding_id": finding_id, "judged": max(times)})
    return judged


def upgrade() -> None:
    op.add_column("findings", sa.Column("last_judged_at", TS, nullable=True))
    judged = _judgements()
    if judged:
        findings = sa.table("findings", sa.column("id"), sa.column("last_judged_at", TS))
        op.get_bind().execute(
            findings.update()
            .where(findings.c.id == sa.bindparam("finding_id"))
            .values(last_judged_at=sa.bindparam("judged")),
            judged,
        )


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of ``findings`` would drop the table, and
    # with foreign keys on that cascades into its incidents.
    op.drop_column("findings", "last_judged_at")
