"""JUnit XML: parsed back as CI systems parse it, counts and outcomes exact."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from cniguard.model.finding import Report
from cniguard.report import render


def _root(report: Report) -> ET.Element:
    # Our own output, not untrusted input: the standard parser is what CI plugins use too.
    return ET.fromstring(render(report, "junit").encode("utf-8"))  # noqa: S314


def _counts(element: ET.Element) -> tuple[str | None, ...]:
    return tuple(element.get(k) for k in ("tests", "failures", "errors", "skipped"))


def test_totals(report: Report) -> None:
    root = _root(report)
    assert root.tag == "testsuites"
    assert _counts(root) == ("15", "9", "1", "1")


def test_one_suite_per_cluster_with_exact_counts(report: Report) -> None:
    suites = {s.get("name"): _counts(s) for s in _root(report).iter("testsuite")}
    assert suites == {
        "prod-payments": ("2", "0", "0", "0"),
        "prod-checkout": ("4", "3", "0", "1"),
        "prod-search": ("2", "0", "0", "0"),
        "staging-data": ("2", "2", "0", "0"),
        "dev-analytics": ("2", "1", "1", "0"),
        "batch-fargate": ("0", "0", "0", "0"),
        "legacy-ci": ("2", "2", "0", "0"),
        "platform": ("1", "1", "0", "0"),
    }


def test_counts_match_the_elements(report: Report) -> None:
    for suite in _root(report).iter("testsuite"):
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert suite.get(attr) == str(sum(1 for c in cases if c.find(tag) is not None))


def test_outcomes(report: Report) -> None:
    cases = {
        c.get("name", "").split(" ")[0] + "@" + (c.get("classname") or ""): c
        for c in _root(report).iter("testcase")
    }
    passing = cases["CNI001@cniguard.prod-payments"]
    assert list(passing) == []
    failure = cases["CNI002@cniguard.prod-checkout"].find("failure")
    assert failure is not None
    assert failure.get("type") == "critical"
    assert 'evidence: {"actions": [' in (failure.text or "")
    unknown = cases["CNI015@cniguard.dev-analytics"].find("error")
    assert unknown is not None
    assert unknown.get("type") == "unknown"
    skipped = cases["CNI020@cniguard.prod-checkout"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == (
        "suppressed until 2099-12-31: cost-center is assigned by FinOps in Q3"
    )
    expired = cases["CNI021@cniguard.prod-checkout"].find("failure")
    assert expired is not None
    assert "fail (suppression expired 2024-01-31: owner pending re-org)" in (expired.text or "")


def test_cluster_properties(report: Report) -> None:
    suite = next(s for s in _root(report).iter("testsuite") if s.get("name") == "batch-fargate")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {
        "cluster": "arn:aws:eks:us-east-1:444455556666:cluster/batch-fargate",
        "account": "444455556666",
        "region": "us-east-1",
        "environment": "dev",
        "cni_identity": "not_applicable",
        "compliant": "n/a",
    }


def test_characters_xml_cannot_carry_are_replaced(report: Report) -> None:
    bad = replace(report.findings[1], message="nul\x00 bell\x07 ok")
    doc = replace(report, findings=(bad,))
    failure = _root(doc).find(".//failure")
    assert failure is not None
    assert failure.get("message") == "nul\ufffd bell\ufffd ok"


def test_hostile_text_is_escaped_and_round_trips(hostile_report: Report) -> None:
    text = render(hostile_report, "junit")
    assert "<script>" not in text
    assert "<img" not in text
    names = [s.get("name") for s in _root(hostile_report).iter("testsuite")]
    assert names[:2] == ["prod-payments", "<script>alert(1)</script>"]
