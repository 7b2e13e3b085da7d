"""Webhook alerts for `cniguard watch`: new or re-opened findings, once per incident.

The payload is Slack-compatible (``text`` plus ``blocks``) and carries the findings as data under
``cniguard`` for other receivers. Every stored value in the text is escaped (``&``, ``<``, ``>``:
Slack's control characters), so a hostile cluster tag cannot mention ``<!channel>`` or forge a
link; with a dashboard address (``CNIGUARD_DASHBOARD_URL``), each line links its cluster page.

Delivery is retried a bounded number of times; an incident is
marked alerted only after a 2xx answer, so a failed delivery is tried again on the next scan and a
delivered one never twice.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from cniguard.model.finding import SEVERITIES, Severity, severity_rank
from cniguard.store.database import with_write_retries
from cniguard.store.queries import iso
from cniguard.store.schema import AlertSent, Incident, StoredFinding

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
DASHBOARD_ENV = "CNIGUARD_DASHBOARD_URL"


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


def slack_escape(text: str) -> str:
    """Slack mrkdwn text showing ``text`` literally: its three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cluster_ref(alert: Alert, dashboard: str | None) -> str:
    name = slack_escape(alert.cluster.replace("`", "'"))
    if dashboard is None:
        return f"`{name}`"
    return f"<{dashboard}/cluster?arn={quote(alert.cluster, safe='')}|{name}>"


def slack_payload(alerts: list[Alert], dashboard_url: str | None = None) -> dict[str, Any]:
    """The webhook body; ``dashboard_url`` (the served dashboard's address) adds links to it."""
    dashboard = dashboard_url.rstrip("/") if dashboard_url else None
    lines = [
        f"*{a.severity.upper()}* {slack_escape(a.rule_id)} "
        f"{'re-opened' if a.reopened else 'new'}: {slack_escape(a.title)} — "
        f"{_cluster_ref(a, dashboard)}"
        for a in alerts
    ]
    text = f"cniguard: {len(alerts)} new or re-opened finding(s)"
    headline = f"{text} · <{dashboard}/findings?state=open|open findings>" if dashboard else text
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ],
        "cniguard": {
            "alerts": [asdict(a) for a in alerts],
            **({"dashboard": dashboard} if dashboard else {}),
        },
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


def deliver(
    engine: Engine,
    url: str,
    threshold: Severity,
    *,
    dashboard_url: str | None = None,
    **retry: Any,
) -> int:
    """Send one alert for every pending incident; return how many were delivered (0 on failure).

    ``dashboard_url`` defaults to the ``CNIGUARD_DASHBOARD_URL`` environment variable.
    """
    alerts = pending_alerts(engine, threshold)
    dashboard = dashboard_url or os.environ.get(DASHBOARD_ENV) or None
    if not alerts or not post_with_retries(url, slack_payload(alerts, dashboard), **retry):
        return 0
    now = dt.datetime.now(dt.UTC)

    def mark(conn: Any) -> None:
        conn.execute(
            insert(AlertSent),
            [{"incident_id": a.incident_id, "sent_at": now, "target": url} for a in alerts],
        )

    with_write_retries(engine, mark)
    return len(alerts)
