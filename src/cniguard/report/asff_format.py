"""AWS Security Finding Format (ASFF) for Security Hub, as a custom integration would send it.

One ASFF finding per ``fail`` or ``unknown`` check (an ``unknown`` is ``Compliance.Status``
``WARNING``, never a pass). The ``Id`` is derived from account, region, cluster, rule and the
finding's fingerprint, so a later scan updates the same Security Hub finding instead of adding one.
The output is a JSON array, the shape ``aws securityhub batch-import-findings --findings`` takes.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from cniguard.model.finding import Finding, Report, Severity

if TYPE_CHECKING:
    from cniguard.rules.base import Rule

SCHEMA_VERSION = "2018-10-08"
ID_PREFIX = "cniguard/"
GENERATOR_PREFIX = "cniguard/"
TYPE_NAMESPACE = "Software and Configuration Checks/AWS Security Best Practices"
SEVERITY_LABEL: dict[Severity, str] = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "medium": "MEDIUM",
    "low": "LOW",
    "info": "INFORMATIONAL",
}
COMPLIANCE = {"fail": "FAILED", "unknown": "WARNING", "pass": "PASSED"}
# Security Hub's documented field limits: longer values are rejected, so they are shortened
TITLE_MAX, DESCRIPTION_MAX, RECOMMENDATION_MAX = 256, 1024, 512
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


class AsffError(ValueError):
    """A finding Security Hub cannot hold: no AWS account or region (an IaC template's)."""


def render(report: Report) -> str:
    return json.dumps(to_asff(report), indent=2, ensure_ascii=False) + "\n"


def to_asff(report: Report) -> list[dict[str, Any]]:
    """Every finding that needs attention, as ACTIVE ASFF findings of this report's time."""
    return [
        asff_finding(f, report.generated_at, report.tool_version)
        for f in report.findings
        if f.status in {"fail", "unknown"}
    ]


def finding_id(finding: Finding) -> str:
    """Stable across scans: the same check on the same resource keeps its Security Hub Id."""
    cluster_name = finding.cluster.rsplit("/", 1)[-1]
    return (
        f"{ID_PREFIX}{finding.account}/{finding.region}/{cluster_name}/"
        f"{finding.rule_id}/{finding.fingerprint}"
    )


def product_arn(account: str, region: str, partition: str = "aws") -> str:
    """The default product ARN of an account's own (custom) integration."""
    return f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default"


def asff_finding(
    finding: Finding,
    updated_at: str,
    tool_version: str,
    *,
    created_at: str | None = None,
    archived: bool = False,
) -> dict[str, Any]:
    """One ASFF finding; ``archived`` for a check Security Hub holds that no longer fails."""
    if not (_ACCOUNT.fullmatch(finding.account) and _REGION.fullmatch(finding.region)):
        raise AsffError(
            f"ASFF needs an AWS account and region; finding {finding.fingerprint} of "
            f"{finding.cluster} has account {finding.account!r} and region {finding.region!r}"
        )
    rule = _rule(finding.rule_id)
    partition = _partition(finding.cluster)
    severity = {"Label": SEVERITY_LABEL[finding.severity]}
    types = [f"{TYPE_NAMESPACE}/{rule.category if rule else 'cniguard'}"]
    prefix = "Could not be decided: " if finding.status == "unknown" else ""
    document: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(finding),
        "ProductArn": product_arn(finding.account, finding.region, partition),
        "GeneratorId": f"{GENERATOR_PREFIX}{finding.rule_id}",
        "AwsAccountId": finding.account,
        "Region": finding.region,
        "Types": types,
        "CreatedAt": created_at or updated_at,
        "UpdatedAt": updated_at,
        "Severity": severity,
        "FindingProviderFields": {"Severity": severity, "Types": types},
        "Title": _cut(f"{finding.rule_id}: {finding.title}", TITLE_MAX),
        "Description": _cut(f"{prefix}{finding.message}", DESCRIPTION_MAX),
        "Resources": _resources(finding, partition),
        "Compliance": {"Status": COMPLIANCE[finding.status]},
        "RecordState": "ARCHIVED" if archived else "ACTIVE",
        "ProductFields": {
            "ProviderName": "cniguard",
            "ProviderVersion": tool_version,
            "cniguard/status": finding.status,
            "cniguard/fingerprint": finding.fingerprint,
            "cniguard/resource": finding.resource,
        },
    }
    if not archived:
        # Security Hub takes Workflow only when it creates the finding; later imports keep the
        # analysts' workflow, and a PASSED compliance moves it to RESOLVED on its own
        suppressed = finding.suppression is not None and not finding.suppression.expired
        document["Workflow"] = {"Status": "SUPPRESSED" if suppressed else "NEW"}
    recommendation: dict[str, str] = {}
    if finding.remediation:
        recommendation["Text"] = _cut(finding.remediation, RECOMMENDATION_MAX)
    if rule is not None and rule.references:
        recommendation["Url"] = rule.references[0]
    if recommendation:
        document["Remediation"] = {"Recommendation": recommendation}
    return document


def _resources(finding: Finding, partition: str) -> list[dict[str, Any]]:
    """The EKS cluster, and the IAM role (or other resource) the finding is about."""
    resources: list[dict[str, Any]] = [
        {
            "Type": "AwsEksCluster",
            "Id": finding.cluster,
            "Partition": partition,
            "Region": finding.region,
        }
    ]
    if finding.resource != finding.cluster:
        kind = "AwsIamRole" if ":role/" in finding.resource else "Other"
        resources.append(
            {"Type": kind, "Id": finding.resource, "Partition": partition, "Region": finding.region}
        )
    return resources


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[0] == "arn" and parts[1] else "aws"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rule(rule_id: str) -> Rule | None:
    from cniguard.rules import RULES_BY_ID

    return RULES_BY_ID.get(rule_id)
