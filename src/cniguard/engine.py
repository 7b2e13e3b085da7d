"""evaluate(inventory) -> Report: runs every rule on every cluster, pure and fail-closed.

A rule that raises becomes an ``unknown`` finding naming the error (never a crash, never a pass);
every cluster of the inventory is in the report with its CNI identity mode and compliance.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gc
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any

from cniguard import __version__
from cniguard.analysis import ClusterView, InventoryIndex, roles_in
from cniguard.config import Config, Suppression
from cniguard.cost.incident import with_cost
from cniguard.cost.section import finops_kpis
from cniguard.model.codec import dump_python
from cniguard.model.finding import (
    IDENTITY_MODES,
    SEVERITIES,
    AppliedSuppression,
    ClusterResult,
    Finding,
    IdentityMode,
    Location,
    Report,
    Status,
)
from cniguard.model.inventory import Inventory
from cniguard.rules import RULES, Rule
from cniguard.rules.common import dedicated_status

SYMPTOM_RULES = ("CNI030", "CNI031", "CNI032")
CAUSE_RULES = ("CNI001", "CNI004", "CNI010", "CNI012", "CNI003", "CNI040")
COMPLIANCE_RULES = ("CNI001", "CNI002", "CNI004", "CNI010", "CNI012", "CNI013")
NOT_COLLECTED = {
    "k8s": "Kubernetes state was not collected (use --kube, --kube-context or --kube-export)",
    "cloudtrail": "CloudTrail was not collected",
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def run_rule(rule: Rule, view: ClusterView) -> list[Finding]:
    """The rule's findings on one cluster; an exception becomes one ``unknown`` finding."""
    if rule.aws_node and view.aws_node_runs[0] is False:
        return []  # not applicable: aws-node does not run on this cluster
    if rule.needs and view.inventory.kind != "iac":
        missing = [n for n in rule.needs if n not in view.inventory.sources]
        if missing:
            reason = "; ".join(NOT_COLLECTED[n] for n in missing)
            return [rule.finding(view, "unknown", f"{reason}.", evidence={"missing": missing})]
    try:
        return list(rule.run(view))
    except Exception as exc:  # a rule bug must not hide the cluster or pass it
        return [
            rule.finding(
                view,
                "unknown",
                f"The rule could not be evaluated: {type(exc).__name__}: {exc}.",
                evidence={"error": f"{type(exc).__name__}: {exc}"},
                key="rule-error",
            )
        ]


def _statuses(findings: Iterable[Finding], rule_ids: Iterable[str]) -> set[Status]:
    ids = set(rule_ids)
    return {f.status for f in findings if f.rule_id in ids}


def identity_mode(view: ClusterView, findings: list[Finding]) -> tuple[IdentityMode, list[str]]:
    """The cluster's CNI identity mode (design §3) and the reasons behind it."""
    runs, why = view.aws_node_runs
    if runs is False:
        return "not_applicable", [why]
    if runs is None:
        return "unknown", [why]
    binding = view.binding
    if binding.kind == "unknown":
        return "unknown", [binding.reason]
    node = _statuses(findings, ["CNI002"])
    node_grants = True if "fail" in node else (None if "unknown" in node else False)
    if binding.kind in ("irsa", "pod_identity"):
        reasons = [f"aws-node is bound to {binding.role_arn} ({binding.reason})"]
        if node_grants:
            return "mixed", [*reasons, "a node role still grants ENI-changing actions (CNI002)"]
        status = dedicated_status(view)
        if status.works is False and node_grants is False:
            return "none", [*reasons, *status.problems]
        if node_grants is None:
            return "unknown", [*reasons, "whether a node role also grants them is unknown"]
        return binding.kind, reasons  # whether it works (unknown) decides compliance
    cni001 = _statuses(findings, ["CNI001"])
    if "pass" in cni001:
        reasons = ["no dedicated identity: aws-node uses the node role's permissions"]
        if "unknown" in cni001:  # unread node roles or sources could only add grants
            reasons.append("a known node role grants them; what was not read cannot change that")
        return "node_role", reasons
    if "unknown" in cni001:
        return "unknown", ["the node roles' permissions could not all be evaluated"]
    return "none", ["no dedicated identity and no node role grants the CNI actions"]


def compliance(mode: IdentityMode, findings: list[Finding]) -> bool | None:
    """Meets the IRSA-only standard: working dedicated identity, nothing on node roles, trust right."""
    if mode in ("not_applicable", "unknown"):
        return None
    if mode not in ("irsa", "pod_identity"):
        return False
    statuses = _statuses(findings, COMPLIANCE_RULES)
    if "fail" in statuses:
        return False
    return None if "unknown" in statuses else True


def _link_causes(findings: list[Finding]) -> list[Finding]:
    """Symptom findings (CNI030-032) name the cause findings of the same cluster."""
    if not any(f.status == "fail" and f.rule_id in SYMPTOM_RULES for f in findings):
        return findings
    causes = [
        {
            "rule_id": f.rule_id,
            "fingerprint": f.fingerprint,
            "resource": f.resource,
            "title": f.title,
        }
        for f in findings
        if f.status == "fail" and f.rule_id in CAUSE_RULES
    ]
    return [
        replace(f, evidence={**f.evidence, "likely_cause": causes})
        if f.status == "fail" and f.rule_id in SYMPTOM_RULES
        else f
        for f in findings
    ]


class _Suppressor:
    """Matches findings against the configured suppressions (rule globs resolved once per rule)."""

    def __init__(self, suppressions: tuple[Suppression, ...], today: dt.date) -> None:
        self.suppressions = suppressions
        self.today = today
        self.by_rule: dict[str, list[Suppression]] = {}
        self.expired_used: list[dict[str, Any]] = []

    def apply(self, findings: list[Finding], cluster_name: str) -> list[Finding]:
        if not self.suppressions:
            return findings
        out = []
        for finding in findings:
            candidates = self.by_rule.get(finding.rule_id)
            if candidates is None:
                candidates = self.by_rule[finding.rule_id] = [
                    s for s in self.suppressions if fnmatch.fnmatchcase(finding.rule_id, s.rule)
                ]
            targets = (finding.resource, finding.cluster, cluster_name)
            match = next(
                (
                    s
                    for s in candidates
                    if finding.status != "pass"
                    and any(fnmatch.fnmatchcase(t, s.resource) for t in targets)
                ),
                None,
            )
            out.append(finding if match is None else self._suppress(finding, match))
        return out

    def _suppress(self, finding: Finding, match: Suppression) -> Finding:
        expired = match.expires is not None and match.expires < self.today
        expires = match.expires.isoformat() if match.expires else None
        if expired:
            self.expired_used.append(
                {
                    "rule": match.rule,
                    "resource": match.resource,
                    "reason": match.reason,
                    "expires": expires,
                    "finding": finding.fingerprint,
                }
            )
        return replace(finding, suppression=AppliedSuppression(match.reason, expires, expired))


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def kpis(clusters: list[ClusterResult], findings: list[Finding]) -> dict[str, Any]:
    """Point-in-time KPIs of one report (the store adds trends over time)."""
    applicable = [c for c in clusters if c.cni_identity != "not_applicable"]
    prod = [c for c in applicable if c.production]
    active = [f for f in findings if f.active]
    by_mode = Counter(c.cni_identity for c in clusters)
    prod_by_mode = Counter(c.cni_identity for c in clusters if c.production)
    covered = {f.cluster for f in findings if f.rule_id == "CNI090" and f.status == "pass"}
    return {
        "clusters": len(clusters),
        "irsa_compliance_pct": _pct(sum(c.compliant is True for c in applicable), len(applicable)),
        "irsa_compliance_pct_production": _pct(sum(c.compliant is True for c in prod), len(prod)),
        "clusters_by_identity": {m: by_mode.get(m, 0) for m in IDENTITY_MODES},
        "prod_clusters_by_identity": {m: prod_by_mode.get(m, 0) for m in IDENTITY_MODES},
        "prod_clusters_on_node_role": sum(
            c.cni_identity in ("node_role", "mixed") for c in clusters if c.production
        ),
        "open_findings_by_severity": {s: sum(f.severity == s for f in active) for s in SEVERITIES},
        "node_role_findings_high_critical": sum(
            f.rule_id == "CNI002" and f.severity in ("high", "critical") for f in active
        ),
        "unknown_findings": sum(f.status == "unknown" for f in findings),
        "suppressed_findings": sum(
            f.status == "fail" and f.suppression is not None and not f.suppression.expired
            for f in findings
        ),
        "coverage_pct": _pct(len(covered), len(clusters)),
    }


def evaluate(
    inventory: Inventory,
    config: Config | None = None,
    *,
    rules: tuple[Rule, ...] = RULES,
    generated_at: str | None = None,
    only: Collection[str] | None = None,
) -> Report:
    """Evaluate every rule on every cluster of ``inventory`` (or only on the clusters whose ARN is
    in ``only``: shared-role usage is still computed over the whole inventory)."""
    # Evaluation allocates millions of small acyclic objects; the cyclic collector would rescan
    # them over and over (half the run time on 10,000 clusters) and reclaim nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _evaluate(inventory, config or Config(), rules, generated_at, only)
    finally:
        if collecting:
            gc.enable()


def _evaluate(
    inventory: Inventory,
    config: Config,
    rules: tuple[Rule, ...],
    generated_at: str | None,
    only: Collection[str] | None,
) -> Report:
    index = InventoryIndex(inventory)
    views = [ClusterView(c, index, config) for c in inventory.clusters]
    index.role_usage = roles_in(views)
    if only is not None:
        wanted = set(only)
        views = [v for v in views if v.cluster.arn in wanted]
    active_rules = tuple(r for r in rules if inventory.kind != "iac" or r.iac)
    all_findings: list[Finding] = []
    results: list[ClusterResult] = []
    suppressor = _Suppressor(config.suppressions, config.current_date())
    for view in views:
        findings: list[Finding] = []
        for rule in active_rules:
            findings.extend(run_rule(rule, view))
        findings = suppressor.apply(_link_causes(findings), view.cluster.name)
        findings = with_cost(view, findings)  # FinOps: cost evidence on failing symptoms
        try:
            mode, reasons = identity_mode(view, findings)
        except Exception as exc:  # keep the cluster in the report whatever happens
            mode, reasons = "unknown", [f"identity mode could not be derived: {exc}"]
        compliant = compliance(mode, findings)
        if compliant and view.pods_unread:  # fail closed: a lower source's word is not enough
            compliant = None
            reasons.append(
                "the running aws-node pods were in scope but not read: what they run with "
                "decides, so compliance is not confirmed"
            )
        dedicated_works = None
        if mode in ("irsa", "pod_identity", "mixed"):
            dedicated_works = dedicated_status(view).works
        origin = view.cluster.origin
        results.append(
            ClusterResult(
                name=view.cluster.name,
                arn=view.cluster.arn,
                account=view.cluster.account,
                region=view.cluster.region,
                environment=view.environment,
                production=view.production,
                cni_identity=mode,
                compliant=compliant,
                identity_role_arn=view.binding.role_arn if dedicated_works is not None else None,
                reasons=tuple(reasons),
                location=Location(origin.file, origin.line) if origin and origin.file else None,
                basis=view.basis,
            )
        )
        all_findings.extend(findings)
    coverage: dict[str, Any] = {
        "kind": inventory.kind,
        "accounts": list(inventory.accounts),
        "regions": list(inventory.regions),
        "sources": list(inventory.sources),
        "clusters": len(inventory.clusters),
        "gaps": [dump_python(g) for g in inventory.gaps],
        "rules_evaluated": [r.id for r in active_rules],
        "rules_not_applicable": [r.id for r in rules if r not in active_rules],
        "expired_suppressions": suppressor.expired_used,
        **({"collection": inventory.meta} if inventory.meta else {}),
    }
    return Report(
        kind=inventory.kind,
        generated_at=generated_at or _now(),
        tool_version=__version__,
        clusters=tuple(results),
        findings=tuple(all_findings),
        coverage=coverage,
        kpis={**kpis(results, all_findings), **finops_kpis(views, all_findings)},
    )


__all__ = ["evaluate", "identity_mode", "kpis", "run_rule"]
