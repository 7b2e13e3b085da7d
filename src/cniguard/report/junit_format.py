"""JUnit XML for CI test reports (Jenkins, GitLab, GitHub Actions, Azure DevOps).

One ``testsuite`` per cluster, one ``testcase`` per finding. A failing finding is a
``<failure>``. An ``unknown`` is an ``<error>``, not a ``<skipped>``: CI systems show errors in
red and count them against the run, while skipped tests are greyed out and easy to overlook, and
a check that could not be decided must not read as fine. A suppressed failure is ``<skipped>``
with its reason.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from cniguard.model.finding import Finding, Report
from cniguard.report.summary import (
    ClusterRow,
    cluster_rows,
    is_suppressed,
    location_text,
    status_text,
)

# Characters XML 1.0 cannot carry, even escaped; resource names are attacker-controlled.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_COUNTER = {"failure": "failures", "error": "errors", "skipped": "skipped"}


def _text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def render(report: Report) -> str:
    root = ET.Element("testsuites", name="cniguard")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for row in cluster_rows(report):
        suite = _suite(row, report.generated_at)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _suite(row: ClusterRow, timestamp: str) -> ET.Element:
    suite = ET.Element("testsuite", name=_text(row.name), timestamp=timestamp)
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("cluster", row.arn),
        ("account", row.account),
        ("region", row.region),
        ("environment", row.environment or ""),
        ("cni_identity", row.cni_identity or "unknown"),
        ("compliant", row.compliant),
    ):
        ET.SubElement(props, "property", name=name, value=_text(value))
    counts = dict.fromkeys(("failures", "errors", "skipped"), 0)
    for finding in row.findings:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_text(f"cniguard.{row.name}"),
            name=_text(f"{finding.rule_id} {finding.title} [{finding.resource}]"),
            time="0",
        )
        outcome = _outcome(finding)
        if outcome is not None:
            case.append(outcome)
            counts[_COUNTER[outcome.tag]] += 1
    suite.set("tests", str(len(row.findings)))
    for key, count in counts.items():
        suite.set(key, str(count))
    suite.set("time", "0")
    return suite


def _outcome(finding: Finding) -> ET.Element | None:
    if is_suppressed(finding):
        return ET.Element("skipped", message=_text(status_text(finding)))
    if finding.status == "pass":
        return None
    tag = "failure" if finding.status == "fail" else "error"
    element = ET.Element(
        tag,
        message=_text(finding.message),
        type=finding.severity if finding.status == "fail" else "unknown",
    )
    element.text = _text(_details(finding))
    return element


def _details(finding: Finding) -> str:
    lines = [
        f"{finding.rule_id} ({finding.severity}) {finding.status}: {finding.message}",
        f"cluster: {finding.cluster}",
        f"resource: {finding.resource}",
    ]
    location = location_text(finding)
    if location:
        lines.append(f"location: {location}")
    if finding.evidence:
        evidence = json.dumps(finding.evidence, sort_keys=True, ensure_ascii=False)
        lines.append(f"evidence: {evidence}")
    if finding.suppression is not None:
        lines.append(status_text(finding))
    if finding.remediation:
        lines.append(f"remediation: {finding.remediation}")
    return "\n".join(lines)
