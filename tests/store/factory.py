"""Small builders of Report objects for store, KPI and web tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cniguard.model.finding import (
    AppliedSuppression,
    ClusterResult,
    Finding,
    IdentityMode,
    Report,
    Severity,
    Status,
)

ACCOUNT = "111122223333"
REGION = "eu-west-1"
ALL_SOURCES = ("aws", "k8s", "cloudtrail")


def arn(name: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:eks:{region}:{account}:cluster/{name}"


def cluster(
    name: str,
    mode: IdentityMode = "irsa",
    *,
    production: bool = False,
    environment: str | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
) -> ClusterResult:
    compliant: bool | None = {"irsa": True, "pod_identity": True, "node_role": False,
                              "mixed": False, "none": False}.get(mode)
    return ClusterResult(
        name=name,
        arn=arn(name, account, region),
        account=account,
        region=region,
        environment=environment if environment is not None else ("prod" if production else "dev"),
        production=production,
        cni_identity=mode,
        compliant=compliant,
    )


def finding(
    rule_id: str,
    cluster_name: str,
    *,
    severity: Severity = "high",
    status: Status = "fail",
    resource: str | None = None,
    evidence: dict[str, Any] | None = None,
    suppressed: bool = False,
    account: str = ACCOUNT,
    region: str = REGION,
) -> Finding:
    res = resource or f"arn:aws:iam::{account}:role/{cluster_name}-node"
    return Finding(
        rule_id=rule_id,
        severity=severity,
        status=status,
        cluster=arn(cluster_name, account, region),
        account=account,
        region=region,
        resource=res,
        title=f"{rule_id} on {cluster_name}",
        message=f"{rule_id} fails on {res}",
        evidence=evidence or {},
        remediation="Move the CNI permissions to an IRSA role.",
        location=None,
        fingerprint=f"{rule_id}|{cluster_name}|{res}",
        suppression=AppliedSuppression(reason="accepted") if suppressed else None,
    )


def report(
    at: str,
    clusters: list[ClusterResult],
    findings: Sequence[Finding] = (),
    *,
    gaps: list[dict[str, Any]] | None = None,
    duration: float | None = None,
    sources: Sequence[str] = ALL_SOURCES,
) -> Report:
    coverage: dict[str, Any] = {"gaps": gaps or [], "sources": list(sources)}
    if duration is not None:
        coverage["duration_seconds"] = duration
    return Report(
        kind="live",
        generated_at=at,
        tool_version="0.1.0",
        clusters=tuple(clusters),
        findings=tuple(findings),
        coverage=coverage,
    )
