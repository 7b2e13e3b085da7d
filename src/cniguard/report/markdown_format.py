"""Markdown for pull-request comments, wikis and tickets: summary, clusters, findings by severity.

Every value is escaped: a resource name or tag value must not break a table (``|``), open a link
or image (``[``), or smuggle HTML (``<``) into the rendered page.
"""

from __future__ import annotations

import re

from cniguard.model.finding import SEVERITIES, Finding, Report
from cniguard.report.summary import (
    by_severity,
    cluster_rows,
    facts,
    gap_lines,
    location_text,
    rule_list,
    section_counts,
    status_text,
)

_SPECIAL = re.compile(r"([\\`*_\[\]<>|&!#])")


def md(value: object) -> str:
    """Escape ``value`` for a Markdown table cell or list item (newlines become ``<br>``)."""
    text = _SPECIAL.sub(r"\\\1", str(value))
    return "<br>".join(part.strip() for part in text.splitlines()) if "\n" in text else text


def render(report: Report) -> str:
    out = [
        "# cniguard report",
        "",
        f"Generated {md(report.generated_at)} by cniguard {md(report.tool_version)} "
        f"({md(report.kind)}).",
        "",
        "## Summary",
        "",
    ]
    out += [f"- **{label}:** {md(value)}" for label, value in facts(report)]
    out += [f"  - {md(line)}" for line in gap_lines(report)]
    out += ["", "## Clusters", "", *_clusters(report), "", "## Findings", ""]
    out += _findings(report)
    return "\n".join(out) + "\n"


def _table(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _clusters(report: Report) -> list[str]:
    header = (
        "Cluster",
        "Account",
        "Region",
        "Environment",
        "CNI identity",
        "Basis",
        "Compliant",
        "Failing rules",
        "Unknown",
    )
    rows = [
        [
            md(row.name),
            md(row.account or "-"),
            md(row.region or "-"),
            md(row.environment or "-"),
            md(row.cni_identity or "unknown"),
            md(row.basis or "-"),
            "**no**" if row.compliant == "no" else md(row.compliant),
            md(rule_list(row.failing) or "-"),
            md(rule_list(row.unknown) or "-"),
        ]
        for row in cluster_rows(report)
    ]
    return _table(header, rows)


def _findings(report: Report) -> list[str]:
    names = {c.arn: c.name for c in report.clusters}
    shown = [f for f in report.findings if f.status != "pass"]
    passing = len(report.findings) - len(shown)
    out: list[str] = []
    for severity in SEVERITIES:
        group = by_severity([f for f in shown if f.severity == severity])
        if not group:
            continue
        out += [f"### {severity.capitalize()} ({section_counts(group)})", ""]
        rows = [
            [
                f"**{md(f.rule_id)}** {md(f.title)}",
                md(status_text(f)),
                md(names.get(f.cluster, f.cluster)),
                md(_where(f)),
                md(f.message),
                md(f.remediation or "-"),
            ]
            for f in group
        ]
        header = ("Rule", "Status", "Cluster", "Resource", "Message", "Remediation")
        out += [*_table(header, rows), ""]
    if not shown:
        out += ["No failing or undecided checks.", ""]
    out.append(f"{passing} passing check(s) not listed.")
    return out


def _where(finding: Finding) -> str:
    location = location_text(finding)
    return f"{finding.resource} ({location})" if location else finding.resource
