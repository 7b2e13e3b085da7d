"""Small reports for the export tests: clusters of moto's account (the caller) and another."""

from __future__ import annotations

from typing import Any

from cniguard.model.finding import (
    AppliedSuppression,
    ClusterResult,
    Finding,
    Location,
    Report,
    Severity,
    Status,
)
from cniguard.rules.base import fingerprint

ME = "123456789012"  # moto's account for the dummy keys
OTHER = "210987654321"
T1 = "2026-12-01T08:00:00Z"
T2 = "2026-12-02T08:00:00Z"


def arn(name: str, account: str = ME, region: str = "us-east-1") -> str:
    return f"arn:aws:eks:{region}:{account}:cluster/{name}"


def cluster(name: str, account: str = ME, region: str = "us-east-1") -> ClusterResult:
    return ClusterResult(
        name=name,
        arn=arn(name, account, region),
        account=account,
        region=region,
        environment="prod",
        production=True,
        cni_identity="node_role",
        compliant=False,
    )


def finding(
    rule_id: str,
    status: Status,
    cluster_arn: str,
    *,
    resource: str | None = None,
    severity: Severity = "high",
    suppressed: bool = False,
    location: Location | None = None,
) -> Finding:
    parts = cluster_arn.split(":")
    account, region = (parts[4], parts[3]) if cluster_arn.startswith("arn:") else ("", "")
    where = resource or cluster_arn
    return Finding(
        rule_id=rule_id,
        severity=severity,
        status=status,
        cluster=cluster_arn,
        account=account,
        region=region,
        resource=where,
        title=f"Title of {rule_id}",
        message=f"{rule_id} is {status} on {where}.",
        evidence={"checked": where},
        remediation=f"Fix {rule_id}.",
        location=location,
        fingerprint=fingerprint(rule_id, cluster_arn, where),
        suppression=AppliedSuppression("accepted risk (TICKET-1)") if suppressed else None,
    )


def report(
    clusters: list[ClusterResult],
    findings: list[Finding],
    *,
    at: str = T1,
    gaps: list[dict[str, Any]] | None = None,
) -> Report:
    return Report(
        kind="live",
        generated_at=at,
        tool_version="0.1.0",
        clusters=tuple(clusters),
        findings=tuple(findings),
        coverage={"gaps": gaps or []},
    )
