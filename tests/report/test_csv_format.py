"""CSV: the header, one row per finding, evidence as compact JSON, no spreadsheet formulas."""

from __future__ import annotations

import csv
import json
from io import StringIO

from cniguard.model.finding import Report
from cniguard.report import render
from cniguard.report.csv_format import COLUMNS


def _rows(report: Report) -> list[dict[str, str]]:
    return list(csv.DictReader(StringIO(render(report, "csv"))))


def test_header_and_one_row_per_finding(report: Report) -> None:
    text = render(report, "csv")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert len(_rows(report)) == len(report.findings) == 15


def test_row_values(report: Report) -> None:
    rows = _rows(report)
    assert [r["status"] for r in rows].count("unknown") == 1
    assert rows[1]["rule_id"] == "CNI002"
    assert json.loads(rows[1]["evidence"]) == report.findings[1].evidence
    assert rows[1]["evidence"].startswith('{"actions":["ec2:AssignPrivateIpAddresses"')
    assert (rows[3]["suppressed"], rows[3]["suppression_expires"]) == ("yes", "2099-12-31")
    assert (rows[4]["suppressed"], rows[4]["suppression_reason"]) == (
        "expired",
        "owner pending re-org",
    )
    iac = rows[-1]
    assert (iac["location_file"], iac["location_line"]) == ("infra/eks/main.tf", "48")
    assert rows[0]["location_file"] == rows[0]["location_line"] == ""


def test_formula_cells_are_defused(hostile_report: Report) -> None:
    row = _rows(hostile_report)[1]
    assert row["resource"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["message"].startswith("tag owner=")
    assert json.loads(row["evidence"])["tags"]["name"] == "<script>alert(1)</script>"
