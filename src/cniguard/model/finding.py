"""Results: findings, per-cluster verdicts and the report that every output format renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cniguard.model.common import JsonDict

Severity = Literal["critical", "high", "medium", "low", "info"]
Status = Literal["fail", "pass", "unknown"]
IdentityMode = Literal[
    "irsa", "pod_identity", "node_role", "mixed", "none", "not_applicable", "unknown"
]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
IDENTITY_MODES: tuple[IdentityMode, ...] = (
    "irsa",
    "pod_identity",
    "node_role",
    "mixed",
    "none",
    "not_applicable",
    "unknown",
)
REPORT_SCHEMA = "cniguard.report/v1"


def severity_rank(severity: Severity) -> int:
    """Higher is worse: critical=4 ... info=0."""
    return len(SEVERITIES) - 1 - SEVERITIES.index(severity)


@dataclass(frozen=True)
class Location:
    file: str
    line: int | None = None


@dataclass(frozen=True)
class AppliedSuppression:
    """A suppression from the config that matched this finding (or matched but has expired)."""

    reason: str
    expires: str | None = None  # ISO date
    expired: bool = False


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    status: Status
    cluster: str  # cluster ARN, or IaC id
    account: str
    region: str
    resource: str
    title: str
    message: str
    evidence: JsonDict
    remediation: str
    location: Location | None
    fingerprint: str
    suppression: AppliedSuppression | None = None

    @property
    def active(self) -> bool:
        """A failing finding that no unexpired suppression covers."""
        return self.status == "fail" and (self.suppression is None or self.suppression.expired)


@dataclass(frozen=True)
class ClusterResult:
    name: str
    arn: str
    account: str
    region: str
    environment: str | None
    production: bool
    cni_identity: IdentityMode
    compliant: bool | None  # None: not applicable or unknown
    identity_role_arn: str | None = None
    reasons: tuple[str, ...] = ()  # why the mode/compliance is what it is (unknowns named)
    location: Location | None = None
    # the source of aws-node's identity the verdict rests on: "pods", "service_account",
    # "pod_identity_association", "addon", "iac", "aws_only" (Kubernetes not in scope),
    # "unknown"; None in reports written before it existed
    basis: str | None = None


@dataclass(frozen=True)
class Report:
    kind: str  # "live" | "iac" | "demo"
    generated_at: str
    tool_version: str
    clusters: tuple[ClusterResult, ...]
    findings: tuple[Finding, ...]
    coverage: JsonDict = field(default_factory=dict)
    kpis: JsonDict = field(default_factory=dict)

    def failing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.active)

    def to_json(self) -> dict[str, Any]:
        """The ``cniguard.report/v1`` document (a contract: extend, never break)."""
        from cniguard.model.codec import dump_python

        return {
            "schema": REPORT_SCHEMA,
            "generated_at": self.generated_at,
            "kind": self.kind,
            "tool": {"name": "cniguard", "version": self.tool_version},
            "clusters": [dump_python(c) for c in self.clusters],
            "findings": [dump_python(f) for f in self.findings],
            "coverage": self.coverage,
            "kpis": self.kpis,
        }
