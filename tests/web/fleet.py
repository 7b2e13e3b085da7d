"""A small stored history for the web tests, with an attacker-controlled environment tag."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from cniguard.model.finding import (
    AppliedSuppression,
    ClusterResult,
    Finding,
    IdentityMode,
    Report,
    Severity,
)
from cniguard.store import save_report

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&"
ACCOUNT = "111122223333"


def _cluster(name: str, mode: IdentityMode, env: str, region: str = "eu-west-1") -> ClusterResult:
    compliant = {"irsa": True, "node_role": False}.get(mode)
    return ClusterResult(
        name=name,
        arn=f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{name}",
        account=ACCOUNT,
        region=region,
        environment=env,
        production=env == "prod",
        cni_identity=mode,
        compliant=compliant,
        basis="pods" if mode == "irsa" else "aws_only",
    )


def finding(
    rule_id: str, cluster: ClusterResult, severity: Severity, evidence: dict[str, object]
) -> Finding:
    resource = f"arn:aws:iam::{ACCOUNT}:role/{cluster.name}-node"
    return Finding(
        rule_id=rule_id,
        severity=severity,
        status="fail",
        cluster=cluster.arn,
        account=ACCOUNT,
        region=cluster.region,
        resource=resource,
        title=f"{rule_id} title",
        message=f"{rule_id} on {cluster.name}",
        evidence=evidence,
        remediation="Detach AmazonEKS_CNI_Policy after IRSA is verified.",
        location=None,
        fingerprint=f"{rule_id}:{cluster.name}",
    )


PROD = _cluster("prod-a", "node_role", "prod")
DEV = _cluster("dev-b", "irsa", "dev", region="us-east-1")
EVIL = _cluster("evil-c", "irsa", HOSTILE)


def build_store(tmp_path: Path) -> str:
    """Two scans: prod-a fails CNI002 and CNI030 (3 stuck pods), then CNI030 resolves."""
    url = f"sqlite:///{tmp_path / 'web.db'}"
    clusters = (PROD, DEV, EVIL)
    node_role = finding("CNI002", PROD, "high", {"policy": HOSTILE})
    stuck = finding("CNI030", PROD, "critical", {"stuck_pods": 3})
    for at, findings in (
        ("2026-03-01T06:00:00Z", (node_role, stuck)),
        ("2026-03-02T06:00:00Z", (node_role,)),
    ):
        save_report(
            url,
            Report(
                kind="live",
                generated_at=at,
                tool_version="0.1.0",
                clusters=clusters,
                findings=findings,
                coverage={"gaps": [], "sources": ["aws", "k8s"], "duration_seconds": 4.5},
            ),
        )
    return url


def build_wide_store(tmp_path: Path, clusters: int) -> str:
    """One scan of ``clusters`` clusters (c000, c001, ...; every third on node_role, failing)."""
    url = f"sqlite:///{tmp_path / 'wide.db'}"
    fleet = tuple(
        _cluster(f"c{i:03d}", "node_role" if i % 3 == 0 else "irsa", "dev") for i in range(clusters)
    )
    findings = tuple(
        finding("CNI002", c, "high", {}) for c in fleet if c.cni_identity == "node_role"
    )
    save_report(
        url,
        Report(
            kind="live",
            generated_at="2026-03-01T06:00:00Z",
            tool_version="0.1.0",
            clusters=fleet,
            findings=findings,
            coverage={"gaps": []},
        ),
    )
    return url


def build_states_store(tmp_path: Path) -> str:
    """Two complete scans of prod-a and dev-b with a finding in each listed state.

    Scan 1 (Mar 1): CNI002 prod-a fails; CNI030 prod-a fails; CNI015 dev-b unknown;
    CNI016 dev-b unknown; CNI020 dev-b fails under a suppression.
    Scan 2 (Mar 3): CNI002 and CNI016 and the suppressed CNI020 again, CNI001 dev-b fails; CNI030
    and CNI015 are no longer reported, so they are resolved (CNI015 was only ever unknown).
    """
    url = f"sqlite:///{tmp_path / 'states.db'}"
    clusters = (PROD, DEV)
    node_role = finding("CNI002", PROD, "high", {})
    stuck = finding("CNI030", PROD, "critical", {"stuck_pods": 2})
    gone_unknown = replace(finding("CNI015", DEV, "medium", {}), status="unknown")
    unknown = replace(finding("CNI016", DEV, "low", {}), status="unknown")
    waived = replace(
        finding("CNI020", DEV, "low", {}),
        suppression=AppliedSuppression(reason="accepted", expires="2027-01-01"),
    )
    missing = finding("CNI001", DEV, "critical", {})
    for at, findings in (
        ("2026-03-01T06:00:00Z", (node_role, stuck, gone_unknown, unknown, waived)),
        ("2026-03-03T06:00:00Z", (node_role, unknown, waived, missing)),
    ):
        save_report(
            url,
            Report(
                kind="live",
                generated_at=at,
                tool_version="0.1.0",
                clusters=clusters,
                findings=findings,
                coverage={"gaps": [], "sources": ["aws", "k8s", "cloudtrail"]},
            ),
        )
    return url
