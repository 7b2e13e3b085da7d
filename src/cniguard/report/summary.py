"""What every human-readable format shows: per-cluster verdicts and fleet totals.

Worked out once here, so the table, Markdown and HTML outputs never disagree on a number.
Percentages whose definition belongs to the engine (IRSA compliance, coverage) are read from
``report.kpis``, never recomputed; plain counts come from the clusters and findings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cniguard.cost.text import report_facts
from cniguard.model.finding import (
    IDENTITY_MODES,
    SEVERITIES,
    ClusterResult,
    Finding,
    IdentityMode,
    Report,
    Severity,
    severity_rank,
)


@dataclass(frozen=True)
class ClusterRow:
    """One cluster (or a finding's cluster id that no cluster result names) and its findings."""

    name: str
    arn: str
    account: str
    region: str
    environment: str | None
    cni_identity: IdentityMode | None  # None: findings only, no cluster result
    basis: str | None  # the source the identity verdict rests on (ClusterResult.basis)
    compliant: str  # "yes" | "no" | "n/a" | "unknown"
    failing: tuple[Finding, ...]  # active failures, worst first
    unknown: tuple[Finding, ...]
    suppressed: tuple[Finding, ...]
    findings: tuple[Finding, ...]  # all of this cluster's findings, worst first


@dataclass(frozen=True)
class Summary:
    clusters: int
    compliant: int
    non_compliant: int
    compliance_unknown: int
    not_applicable: int
    irsa_compliance_pct: float | None  # from kpis; None: not reported or nothing applicable
    irsa_compliance_pct_production: float | None
    coverage_pct: float | None  # from kpis: clusters read completely
    node_role_high_critical: int | None  # from kpis: open CNI002 at high/critical
    by_mode: tuple[tuple[IdentityMode, int], ...]  # every mode, in IDENTITY_MODES order
    open_by_severity: tuple[tuple[Severity, int], ...]  # active failures, every severity
    open_total: int
    unknown_findings: int
    suppressed: int  # failing findings hidden by an unexpired suppression
    expired_suppressions: int  # failing findings whose suppression has expired
    gaps: int | None  # None: the report's coverage has no gap list


def compliant_label(cluster: ClusterResult) -> str:
    """``n/a`` where aws-node does not run; ``unknown`` where data was missing (never hidden)."""
    if cluster.compliant is True:
        return "yes"
    if cluster.compliant is False:
        return "no"
    return "n/a" if cluster.cni_identity == "not_applicable" else "unknown"


def by_severity(findings: tuple[Finding, ...] | list[Finding]) -> tuple[Finding, ...]:
    """Worst first; ties by rule id, then resource, so output order is stable."""
    return tuple(
        sorted(findings, key=lambda f: (-severity_rank(f.severity), f.rule_id, f.resource))
    )


def is_suppressed(finding: Finding) -> bool:
    return (
        finding.status == "fail"
        and finding.suppression is not None
        and not finding.suppression.expired
    )


def section_counts(findings: Sequence[Finding]) -> str:
    """``10 open, 1 unknown``: a findings section in the summary's own terms (open findings,
    unknown results, suppressed), so a section's numbers add up to the summary's."""
    parts = (
        ("open", sum(1 for f in findings if f.active)),
        ("unknown", sum(1 for f in findings if f.status == "unknown")),
        ("suppressed", sum(1 for f in findings if is_suppressed(f))),
    )
    return ", ".join(f"{n} {label}" for label, n in parts if n)


def rule_severities(findings: tuple[Finding, ...]) -> list[tuple[str, Severity]]:
    """Each rule once, at its worst severity, worst first."""
    seen: dict[str, Severity] = {}
    for finding in by_severity(findings):
        seen.setdefault(finding.rule_id, finding.severity)
    return list(seen.items())


def rule_list(findings: tuple[Finding, ...], sep: str = ", ") -> str:
    """``CNI002 (critical), CNI011 (medium)``: each rule once, at its worst severity."""
    return sep.join(f"{rule} ({sev})" for rule, sev in rule_severities(findings))


def cluster_rows(report: Report) -> tuple[ClusterRow, ...]:
    """Clusters in report order, then any cluster ids that only findings name."""
    grouped: dict[str, list[Finding]] = {}
    for finding in report.findings:
        grouped.setdefault(finding.cluster, []).append(finding)
    rows = [_row(c.name, c.arn, c, grouped.pop(c.arn, [])) for c in report.clusters]
    rows += [_row(cid, cid, None, found) for cid, found in grouped.items()]
    return tuple(rows)


def _row(name: str, arn: str, cluster: ClusterResult | None, found: list[Finding]) -> ClusterRow:
    ordered = by_severity(found)
    first = ordered[0] if ordered else None
    return ClusterRow(
        name=name,
        arn=arn,
        account=cluster.account if cluster else (first.account if first else ""),
        region=cluster.region if cluster else (first.region if first else ""),
        environment=cluster.environment if cluster else None,
        cni_identity=cluster.cni_identity if cluster else None,
        basis=cluster.basis if cluster else None,
        compliant=compliant_label(cluster) if cluster else "unknown",
        failing=tuple(f for f in ordered if f.active),
        unknown=tuple(f for f in ordered if f.status == "unknown"),
        suppressed=tuple(f for f in ordered if is_suppressed(f)),
        findings=ordered,
    )


def _kpi(report: Report, key: str) -> float | None:
    value = report.kpis.get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def summarize(report: Report) -> Summary:
    labels = Counter(compliant_label(c) for c in report.clusters)
    node_role = _kpi(report, "node_role_findings_high_critical")
    modes = Counter(c.cni_identity for c in report.clusters)
    active = [f for f in report.findings if f.active]
    open_sev = Counter(f.severity for f in active)
    gaps: Any = report.coverage.get("gaps")
    return Summary(
        clusters=len(report.clusters),
        compliant=labels["yes"],
        non_compliant=labels["no"],
        compliance_unknown=labels["unknown"],
        not_applicable=labels["n/a"],
        irsa_compliance_pct=_kpi(report, "irsa_compliance_pct"),
        irsa_compliance_pct_production=_kpi(report, "irsa_compliance_pct_production"),
        coverage_pct=_kpi(report, "coverage_pct"),
        node_role_high_critical=None if node_role is None else int(node_role),
        by_mode=tuple((mode, modes[mode]) for mode in IDENTITY_MODES),
        open_by_severity=tuple((sev, open_sev[sev]) for sev in SEVERITIES),
        open_total=len(active),
        unknown_findings=sum(1 for f in report.findings if f.status == "unknown"),
        suppressed=sum(1 for f in report.findings if is_suppressed(f)),
        expired_suppressions=sum(
            1 for f in report.findings if f.suppression is not None and f.suppression.expired
        ),
        gaps=len(gaps) if isinstance(gaps, list) else None,
    )


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}%"


def count(value: int | None) -> str:
    return "not reported" if value is None else str(value)


def gap_lines(report: Report, *, short: bool = False) -> tuple[str, ...]:
    """One line per coverage gap: what could not be read, where, and why (``short``: a cluster
    by its name, for the narrow table that shows its account and region)."""
    gaps = report.coverage.get("gaps")
    lines: list[str] = []
    if not isinstance(gaps, list):
        return ()
    for gap in gaps:
        if isinstance(gap, dict):
            cluster = str(gap.get("cluster") or "")
            if short and cluster.startswith("arn:"):
                cluster = cluster.rsplit("/", 1)[-1]
            where = cluster or "/".join(str(gap[k]) for k in ("account", "region") if gap.get(k))
            what = gap.get("operation") or gap.get("what") or "?"
            text = f"{what}: {gap.get('reason', '')}".rstrip(": ")
            lines.append(f"{where}: {text}" if where else text)
        else:
            lines.append(str(gap))
    return tuple(lines)


def facts(report: Report) -> tuple[tuple[str, str], ...]:
    """The summary as (label, value) pairs, worded once for every human-readable format."""
    s = summarize(report)
    return (
        (
            "Clusters",
            f"{s.clusters} (compliant {s.compliant}, non-compliant {s.non_compliant}, "
            f"unknown {s.compliance_unknown}, not applicable {s.not_applicable})",
        ),
        (
            "IRSA compliance",
            f"{percent(s.irsa_compliance_pct)} of applicable clusters "
            f"(production {percent(s.irsa_compliance_pct_production)})",
        ),
        ("CNI identity", ", ".join(f"{mode} {n}" for mode, n in s.by_mode)),
        (
            "Open findings",
            f"{s.open_total} (" + ", ".join(f"{sev} {n}" for sev, n in s.open_by_severity) + ")",
        ),
        ("Open high/critical on node roles", count(s.node_role_high_critical)),
        ("Unknown results", str(s.unknown_findings)),
        ("Suppressed", str(s.suppressed)),
        ("Expired suppressions (failing again)", str(s.expired_suppressions)),
        *report_facts(report.kpis),  # FinOps: only when the report carries kpis.cost/exposure
        ("Clusters read completely", percent(s.coverage_pct)),
        ("Coverage gaps", count(s.gaps)),  # last: the gaps are listed right under it
    )


def status_text(finding: Finding) -> str:
    """``fail``, ``unknown``, or the suppression that hides or no longer hides the failure."""
    sup = finding.suppression
    if sup is None or finding.status != "fail":
        return finding.status
    if sup.expired:
        return f"fail (suppression expired {sup.expires}: {sup.reason})"
    until = f" until {sup.expires}" if sup.expires else ""
    return f"suppressed{until}: {sup.reason}"


def location_text(finding: Finding) -> str | None:
    """``file:line`` of an IaC finding; ``None`` for live ones."""
    if finding.location is None:
        return None
    line = f":{finding.location.line}" if finding.location.line else ""
    return f"{finding.location.file}{line}"
