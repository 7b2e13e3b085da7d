"""SARIF 2.1.0 for code-scanning tools (GitHub, GitLab, Azure DevOps).

Only results that need attention are emitted: ``fail`` and ``unknown``. A passing check is not a
SARIF result, and an ``unknown`` is a ``note`` whose ``cniguard-status`` property says it could
not be decided, so it never looks like a pass. IaC findings point at file and line; live findings
name the cluster and resource as logical locations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cniguard.model.finding import Finding, Report, Severity

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "cniguard/v1"

LEVEL: dict[Severity, str] = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
# GitHub maps these to its critical/high/medium/low bands (>= 9.0, >= 7.0, >= 4.0, > 0).
SECURITY_SEVERITY: dict[Severity, str] = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "0.0",
}


@dataclass(frozen=True)
class RuleInfo:
    """What SARIF needs of a rule; from the catalogue, or from a finding for unknown ids."""

    id: str
    title: str
    severity: Severity
    category: str
    rationale: str
    remediation: str
    references: tuple[str, ...]


def render(report: Report) -> str:
    return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"


def to_sarif(report: Report) -> dict[str, Any]:
    rules = _rules(report)
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = [
        _result(f, index[f.rule_id]) for f in report.findings if f.status in {"fail", "unknown"}
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cniguard",
                        "version": report.tool_version,
                        "semanticVersion": report.tool_version,
                        "rules": [_descriptor(rule) for rule in rules],
                    }
                },
                "automationDetails": {"id": f"cniguard/{report.kind}/"},
                "invocations": [{"executionSuccessful": True, "endTimeUtc": report.generated_at}],
                "results": results,
                "properties": {"cniguard-report-kind": report.kind},
            }
        ],
    }


def _rules(report: Report) -> list[RuleInfo]:
    """Every catalogue rule (so ``ruleIndex`` is stable), then ids only findings name."""
    from cniguard.rules import RULES

    rules = [
        RuleInfo(
            id=r.id,
            title=r.title,
            severity=r.severity,
            category=r.category,
            rationale=r.rationale,
            remediation=r.remediation,
            references=tuple(r.references),
        )
        for r in RULES
    ]
    known = {rule.id for rule in rules}
    for f in report.findings:
        if f.rule_id not in known:
            known.add(f.rule_id)
            rules.append(RuleInfo(f.rule_id, f.title, f.severity, "", f.title, f.remediation, ()))
    return rules


def _descriptor(rule: RuleInfo) -> dict[str, Any]:
    help_text = rule.remediation or rule.rationale
    if rule.references:
        help_text += "\n\nReferences:\n" + "\n".join(f"- {ref}" for ref in rule.references)
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": _pascal(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale or rule.title},
        "help": {"text": help_text or rule.title},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "tags": ["security", "eks", "vpc-cni", *([rule.category] if rule.category else [])],
        },
    }
    if rule.references:
        descriptor["helpUri"] = rule.references[0]
    return descriptor


def _pascal(title: str) -> str:
    """SARIF's ``name`` is an identifier-like label: ``NodeRoleGrantsMutatingCniActions``."""
    words = "".join(c if c.isalnum() else " " for c in title.replace("'", "")).split()
    return "".join(w[:1].upper() + w[1:] for w in words) or "Rule"


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "cniguard-status": finding.status,
        "severity": finding.severity,
        "security-severity": SECURITY_SEVERITY[finding.severity],
        "cluster": finding.cluster,
        "evidence": finding.evidence,
    }
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity] if finding.status == "fail" else "note",
        "message": {"text": _message(finding)},
        "locations": [_location(finding)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    sup = finding.suppression
    if sup is not None and not sup.expired:
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": sup.reason}
        ]
    elif sup is not None:
        properties["expired-suppression"] = {"reason": sup.reason, "expires": sup.expires}
    result["properties"] = properties
    return result


def _message(finding: Finding) -> str:
    prefix = "Could not be decided: " if finding.status == "unknown" else ""
    text = f"{prefix}{finding.message}"
    return f"{text}\nRemediation: {finding.remediation}" if finding.remediation else text


def _location(finding: Finding) -> dict[str, Any]:
    logical = [
        {"name": finding.resource, "fullyQualifiedName": finding.resource, "kind": "resource"}
    ]
    if finding.cluster != finding.resource:
        logical.append(
            {"name": finding.cluster, "fullyQualifiedName": finding.cluster, "kind": "module"}
        )
    if finding.location is None:
        return {"logicalLocations": logical}
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": finding.location.file.replace("\\", "/")}
    }
    if finding.location.line:
        physical["region"] = {"startLine": finding.location.line}
    return {"physicalLocation": physical, "logicalLocations": logical}
