"""CSV for spreadsheets and ad-hoc analysis: a header row, then one row per finding.

Cells that a spreadsheet would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab or CR)
get a leading apostrophe: resource names and tag values are attacker-controlled.
"""

from __future__ import annotations

import csv
import json
from io import StringIO

from cniguard.model.finding import Finding, Report

COLUMNS = (
    "rule_id",
    "severity",
    "status",
    "suppressed",
    "suppression_reason",
    "suppression_expires",
    "cluster",
    "account",
    "region",
    "resource",
    "title",
    "message",
    "evidence",
    "remediation",
    "location_file",
    "location_line",
    "fingerprint",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render(report: Report) -> str:
    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for finding in report.findings:
        writer.writerow([_safe(cell) for cell in _row(finding)])
    return buffer.getvalue()


def _row(finding: Finding) -> list[str]:
    sup = finding.suppression
    suppressed = "no" if sup is None else "expired" if sup.expired else "yes"
    location = finding.location
    return [
        finding.rule_id,
        finding.severity,
        finding.status,
        suppressed,
        sup.reason if sup else "",
        (sup.expires or "") if sup else "",
        finding.cluster,
        finding.account,
        finding.region,
        finding.resource,
        finding.title,
        finding.message,
        json.dumps(finding.evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        finding.remediation,
        location.file if location else "",
        str(location.line) if location and location.line else "",
        finding.fingerprint,
    ]


def _safe(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell
