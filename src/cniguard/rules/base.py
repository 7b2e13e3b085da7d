"""What a rule is: metadata beside the logic, and a pure ``check(view) -> Iterator[Finding]``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from cniguard.analysis import ClusterView
from cniguard.model.common import Origin
from cniguard.model.finding import Finding, Location, Severity, Status

Category = Literal[
    "permissions", "identity", "trust", "tagging", "symptoms", "change-history", "coverage"
]
Needs = Literal["k8s", "cloudtrail"]


def fingerprint(rule_id: str, cluster: str, resource: str, key: str = "") -> str:
    """Stable identity of a finding across scans: rule + cluster + resource + key detail."""
    digest = hashlib.sha256(f"{rule_id}\x1f{cluster}\x1f{resource}\x1f{key}".encode())
    return digest.hexdigest()[:20]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    category: Category
    rationale: str
    remediation: str
    check: Callable[[ClusterView, Rule], Iterator[Finding]] = field(repr=False, compare=False)
    references: tuple[str, ...] = ()
    needs: tuple[Needs, ...] = ()  # live sources without which the rule cannot judge
    iac: bool = True  # evaluated for infrastructure-as-code
    aws_node: bool = True  # skipped where aws-node does not run (Fargate, Auto Mode, Windows only)
    binding: bool = False  # judges aws-node's identity: unknown while that identity is unknown

    def run(self, view: ClusterView) -> Iterator[Finding]:
        if self.binding and view.binding.kind == "unknown":
            reason = view.binding.reason
            message = f"Cannot tell which identity aws-node uses: {reason}."
            return iter([self.finding(view, "unknown", message, evidence={"missing": reason})])
        if (
            "cloudtrail" in self.needs
            and view.cluster.account not in view.index.cloudtrail_accounts
        ):
            message = f"CloudTrail was not read for account {view.cluster.account}."
            return iter(
                [self.finding(view, "unknown", message, evidence={"missing": "cloudtrail"})]
            )
        return self.check(view, self)

    def finding(
        self,
        view: ClusterView,
        status: Status,
        message: str,
        *,
        resource: str | None = None,
        evidence: dict[str, Any] | None = None,
        remediation: str | None = None,
        severity: Severity | None = None,
        origin: Origin | None = None,
        key: str = "",
    ) -> Finding:
        """A finding of this rule on ``view``'s cluster (severity overrides from the config)."""
        cluster = view.cluster
        resource = resource or cluster.arn
        where = origin or cluster.origin
        location = (
            Location(file=where.file, line=where.line) if where is not None and where.file else None
        )
        sev = view.config.severity_overrides.get(self.id) or severity or self.severity
        return Finding(
            rule_id=self.id,
            severity=sev,
            status=status,
            cluster=cluster.arn,
            account=cluster.account,
            region=cluster.region,
            resource=resource,
            title=self.title,
            message=message,
            evidence=evidence or {},
            remediation=remediation or self.remediation,
            location=location,
            fingerprint=fingerprint(self.id, cluster.arn, resource, key),
        )


def rule(
    id: str,
    title: str,
    severity: Severity,
    category: Category,
    rationale: str,
    remediation: str,
    references: tuple[str, ...] = (),
    needs: tuple[Needs, ...] = (),
    iac: bool = True,
    aws_node: bool = True,
    binding: bool = False,
) -> Callable[[Callable[[ClusterView, Rule], Iterator[Finding]]], Rule]:
    """Decorator: the function below becomes the rule's ``check``, metadata stays beside it."""

    def wrap(check: Callable[[ClusterView, Rule], Iterator[Finding]]) -> Rule:
        return Rule(
            id=id,
            title=title,
            severity=severity,
            category=category,
            rationale=rationale,
            remediation=remediation,
            check=check,
            references=references,
            needs=needs,
            iac=iac,
            aws_node=aws_node,
            binding=binding,
        )

    return wrap
