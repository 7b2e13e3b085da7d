"""Would a proposed IAM change break a cluster? Apply it to a copy of the inventory, re-run the
rules on the clusters it touches, and diff the findings (design §7).

Newly failing = fails after and did not fail before (same rule and fingerprint); resolved = failed
before and, after, passes or no longer applies. Fail closed: a touched cluster whose CNI-deciding
rules are unknown before or after, or that has collection gaps, gets the verdict ``unknown``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from cniguard import __version__
from cniguard.config import Config
from cniguard.engine import evaluate, kpis
from cniguard.model.codec import dump_python
from cniguard.model.finding import ClusterResult, Finding, Report, Severity, severity_rank
from cniguard.model.inventory import Cluster, Inventory
from cniguard.remediate.changes import Change
from cniguard.remediate.simulate import apply_changes
from cniguard.remediate.simulate_world import Simulation

IMPACT_SCHEMA = "cniguard.impact/v1"
# the rules that decide whether aws-node gets working permissions at all
CNI_WORKS_RULES = ("CNI001", "CNI003", "CNI004", "CNI010", "CNI012")
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
Verdict = Literal["breaks", "safe", "improves", "unaffected", "unknown"]
VERDICTS: tuple[Verdict, ...] = ("breaks", "unknown", "improves", "safe", "unaffected")
_RANK = {"pass": 0, "unknown": 1, "fail": 2}


@dataclass(frozen=True)
class ClusterImpact:
    """The answer for one touched cluster."""

    cluster: ClusterResult  # the cluster after the change
    verdict: Verdict
    newly_failing: tuple[Finding, ...]
    resolved: tuple[Finding, ...]  # as they fail today
    unknown: tuple[str, ...]
    mode_before: str
    mode_after: str
    changes: tuple[int, ...]  # indexes of the changes that touch it

    def to_json(self) -> dict[str, Any]:
        c = self.cluster
        return {
            "cluster": c.name,
            "arn": c.arn,
            "account": c.account,
            "region": c.region,
            "verdict": self.verdict,
            "newly_failing": [dump_python(f) for f in self.newly_failing],
            "resolved": [dump_python(f) for f in self.resolved],
            "unknown": list(self.unknown),
            "mode_before": self.mode_before,
            "mode_after": self.mode_after,
            "changes": list(self.changes),
        }


@dataclass(frozen=True)
class ImpactResult:
    generated_at: str
    changes: tuple[Change, ...]
    clusters: tuple[ClusterImpact, ...]
    notes: tuple[str, ...]
    inventory_clusters: int
    inventory_fingerprint: str | None = None

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {v: sum(c.verdict == v for c in self.clusters) for v in VERDICTS}
        return {
            "changes": len(self.changes),
            "clusters_in_inventory": self.inventory_clusters,
            "clusters_touched": len(self.clusters),
            **counts,
            "newly_failing": sum(len(c.newly_failing) for c in self.clusters),
            "resolved": sum(len(c.resolved) for c in self.clusters),
        }

    def to_json(self) -> dict[str, Any]:
        """The ``cniguard.impact/v1`` document (a contract: extend, never break)."""
        return {
            "schema": IMPACT_SCHEMA,
            "generated_at": self.generated_at,
            "tool": {"name": "cniguard", "version": __version__},
            "inventory_fingerprint": self.inventory_fingerprint,
            "changes": [c.to_json() for c in self.changes],
            "notes": list(self.notes),
            "clusters": [c.to_json() for c in self.clusters],
            "summary": self.summary(),
        }

    def breaking(self, fail_on: Severity) -> list[Finding]:
        """Newly failing, unsuppressed findings at or above ``fail_on``."""
        threshold = severity_rank(fail_on)
        return [
            f
            for c in self.clusters
            for f in c.newly_failing
            if f.active and severity_rank(f.severity) >= threshold
        ]

    def incomplete(self) -> bool:
        return any(c.verdict == "unknown" for c in self.clusters)

    def report(self) -> Report:
        """A findings report of the touched clusters (newly failing, and resolved as passes) for
        the SARIF, JUnit, CSV, Markdown and HTML formats."""
        findings: list[Finding] = []
        for c in self.clusters:
            findings.extend(c.newly_failing)
            findings.extend(
                replace(f, status="pass", message=f"Resolved by the change: {f.message}")
                for f in c.resolved
            )
        results = [c.cluster for c in self.clusters]
        return Report(
            kind="impact",
            generated_at=self.generated_at,
            tool_version=__version__,
            clusters=tuple(results),
            findings=tuple(findings),
            coverage={"impact": self.summary(), "notes": list(self.notes), "gaps": []},
            kpis=kpis(results, findings),
        )


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _by_cluster(report: Report) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in report.findings:
        out.setdefault(f.cluster, []).append(f)
    return out


def _worst(findings: Iterable[Finding]) -> dict[tuple[str, str], Finding]:
    """One finding per (rule, fingerprint): the worst status wins."""
    out: dict[tuple[str, str], Finding] = {}
    for f in findings:
        key = (f.rule_id, f.fingerprint)
        if key not in out or _RANK[f.status] > _RANK[out[key].status]:
            out[key] = f
    return out


def _gaps(inventory: Inventory, cluster: Cluster) -> list[str]:
    return [
        f"not read: {g.what}: {g.reason}"
        for g in inventory.gaps
        if g.cluster == cluster.arn
        or (
            g.cluster is None
            and g.account in (cluster.account, None)
            and g.region in (cluster.region, None)
        )
    ]


def _agent_missing(cluster: Cluster) -> str | None:
    """Pod Identity needs the agent; the rules do not check it, so impact says so."""
    if cluster.auto_mode:
        return None
    kube = cluster.kube
    addons = cluster.addons
    daemonsets = kube.daemonsets if kube is not None else None
    if any(a.name == POD_IDENTITY_AGENT for a in addons or ()):
        return None
    if any(d.name == POD_IDENTITY_AGENT for d in daemonsets or ()):
        return None
    if addons is None or daemonsets is None:
        return "aws-node uses Pod Identity and whether the eks-pod-identity-agent runs was not read"
    return (
        "aws-node uses Pod Identity but neither an eks-pod-identity-agent add-on nor its "
        "DaemonSet was found: without the agent aws-node gets no credentials"
    )


def _cluster_impact(
    cluster: Cluster,
    before: list[Finding],
    after: list[Finding],
    result_before: ClusterResult,
    result_after: ClusterResult,
    unknown: list[str],
    changes: tuple[int, ...],
) -> ClusterImpact:
    old, new = _worst(before), _worst(after)
    newly = [
        f
        for k, f in new.items()
        if f.status == "fail" and (k not in old or old[k].status != "fail")
    ]
    # a finding that disappears is resolved only if its rule did not turn unknown elsewhere
    new_unknown = {
        f.rule_id
        for k, f in new.items()
        if f.status == "unknown" and (k not in old or old[k].status != "unknown")
    }
    resolved = [
        f
        for k, f in old.items()
        if f.status == "fail"
        and (new[k].status == "pass" if k in new else f.rule_id not in new_unknown)
    ]
    reasons = list(unknown)
    for label, findings in (("before", before), ("after", after)):
        for f in findings:
            if f.rule_id in CNI_WORKS_RULES and f.status == "unknown":
                reason = f"{f.rule_id} {label} the change: {f.message}"
                if reason not in reasons:
                    reasons.append(reason)
    if any(f.rule_id == "CNI001" and f.evidence.get("binding") == "pod_identity" for f in after):
        missing = _agent_missing(cluster)
        if missing:
            reasons.append(missing)
    verdict: Verdict
    if newly:
        verdict = "breaks"
    elif reasons:
        verdict = "unknown"
    elif any(f.rule_id in CNI_WORKS_RULES for f in resolved):
        verdict = "improves"
    elif resolved or {k: f.status for k, f in old.items()} != {k: f.status for k, f in new.items()}:
        verdict = "safe"
    else:
        verdict = "unaffected"
    return ClusterImpact(
        cluster=result_after,
        verdict=verdict,
        newly_failing=tuple(sorted(newly, key=lambda f: (-severity_rank(f.severity), f.rule_id))),
        resolved=tuple(resolved),
        unknown=tuple(reasons),
        mode_before=result_before.cni_identity,
        mode_after=result_after.cni_identity,
        changes=changes,
    )


def assess(
    simulation: Simulation,
    config: Config | None = None,
    *,
    generated_at: str | None = None,
    inventory_fingerprint: str | None = None,
) -> ImpactResult:
    """Evaluate the touched clusters before and after, and judge each one."""
    touched = simulation.touched
    before = evaluate(simulation.before, config, only=touched, generated_at="-")
    after = evaluate(simulation.after, config, only=touched, generated_at="-")
    findings_before, findings_after = _by_cluster(before), _by_cluster(after)
    results_before = {c.arn: c for c in before.clusters}
    results_after = {c.arn: c for c in after.clusters}
    clusters_after = {c.arn: c for c in simulation.after.clusters}
    impacts = []
    for cluster in simulation.after.clusters:
        if cluster.arn not in touched:
            continue
        unknown = [r for e in simulation.effects for r in e.unknown.get(cluster.arn, ())]
        unknown += _gaps(simulation.after, cluster)
        changes = tuple(i for i, e in enumerate(simulation.effects) if cluster.arn in e.touched)
        impacts.append(
            _cluster_impact(
                clusters_after[cluster.arn],
                findings_before.get(cluster.arn, []),
                findings_after.get(cluster.arn, []),
                results_before[cluster.arn],
                results_after[cluster.arn],
                list(dict.fromkeys(unknown)),
                changes,
            )
        )
    impacts.sort(key=lambda c: (VERDICTS.index(c.verdict), c.cluster.name, c.cluster.arn))
    notes = tuple(
        dict.fromkeys(
            f"change {i} ({e.change.source or e.change.kind}): {n}"
            for i, e in enumerate(simulation.effects)
            for n in e.notes
        )
    )
    return ImpactResult(
        generated_at=generated_at or _now(),
        changes=tuple(e.change for e in simulation.effects),
        clusters=tuple(impacts),
        notes=notes,
        inventory_clusters=len(simulation.before.clusters),
        inventory_fingerprint=inventory_fingerprint,
    )


def impact(
    inventory: Inventory,
    changes: Sequence[Change],
    config: Config | None = None,
    *,
    generated_at: str | None = None,
    inventory_fingerprint: str | None = None,
) -> ImpactResult:
    """Which clusters would lose (or gain) a working CNI grant if ``changes`` were made."""
    return assess(
        apply_changes(inventory, changes),
        config,
        generated_at=generated_at,
        inventory_fingerprint=inventory_fingerprint,
    )
