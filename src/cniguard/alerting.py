"""Webhook alerts for `cniguard watch`: new or re-opened findings, once per incident.

The payload is Slack-compatible (``text`` plus ``blocks``) and carries the findings as data under
``cniguard`` for other receivers. Delivery is retried a bounded number of times; an incident is
marked alerted only after a 2xx answer, so a failed delivery is tried again on the next scan and a
delivered one never twice.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from cniguard.model.finding import SEVERITIES, Severity, severity_rank
from cniguard.store.database import with_write_retries
from cniguard.store.queries import iso
from cniguard.store.schema import AlertSent, Incident, StoredFinding

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Alert:
    incident_id: int
    rule_id: str
    severity: str
    title: str
    cluster: str
    account: str
    region: str
    resource: str
    opened_at: str | None
    reopened: bool


def pending_alerts(engine: Engine, threshold: Severity) -> list[Alert]:
    """Open incidents at or above ``threshold`` that no alert has announced yet."""
    wanted = [s for s in SEVERITIES if severity_rank(s) >= severity_rank(threshold)]
    query = (
        select(Incident, StoredFinding)
        .join(StoredFinding, StoredFinding.id == Incident.finding_id)
        .outerjoin(AlertSent, AlertSent.incident_id == Incident.id)
        .where(
            Incident.resolved_at.is_(None),
            AlertSent.incident_id.is_(None),
            Incident.severity.in_(wanted),
        )
        .order_by(Incident.opened_at, Incident.id)
    )
    with Session(engine) as session:
        return [
            Alert(
                incident_id=inc.id,
                rule_id=inc.rule_id,
                severity=inc.severity,
                title=rec.title,
                cluster=rec.cluster,
                account=rec.account,
                region=rec.region,
                resource=rec.resource,
                opened_at=iso(inc.opened_at),
                reopened=iso(rec.first_seen) != iso(inc.opened_at),
            )
            for inc, rec in session.execute(query)
        ]


def slack_payload(alerts: list[Alert]) -> dict[str, Any]:
    lines = [
        f"*{a.severity.upper()}* {a.rule_id} {'re-opened' if a.reopened else 'new'}: "
        f"{a.title} — `{a.cluster}`"
        for a in alerts
    ]
    text = f"cniguard: {len(alerts)} new or re-opened finding(s)"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ],
        "cniguard": {"alerts": [asdict(a) for a in alerts]},
    }


def post_with_retries(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = 4,
    backoff: float = 0.5,
    timeout: float = 10.0,
) -> bool:
    """POST ``payload``; retry transport errors and 408/429/5xx with exponential back-off."""
    with httpx.Client(timeout=timeout) as client:
        for attempt in range(attempts):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            try:
                response = client.post(url, json=payload)
            except httpx.TransportError:
                continue
            if response.is_success:
                return True
            if response.status_code not in RETRY_STATUSES:
                return False
    return False


def deliver(engine: Engine, url: str, threshold: Severity, **retry: Any) -> int:
    """Send one alert for every pending incident; return how many were delivered (0 on failure)."""
    alerts = pending_alerts(engine, threshold)
    if not alerts or not post_with_retries(url, slack_payload(alerts), **retry):
        return 0
    now = dt.datetime.now(dt.UTC)

    def mark(conn: Any) -> None:
        conn.execute(
            insert(AlertSent),
            [{"incident_id": a.incident_id, "sent_at": now, "target": url} for a in alerts],
        )

    with_write_retries(engine, mark)
    return len(alerts)
