"""The ``cniguard.report/v1`` document: the contract keys, and a lossless round trip."""

from __future__ import annotations

import json

from cniguard.model.codec import report_from_json
from cniguard.model.finding import Report
from cniguard.report import FORMATS, render

CONTRACT_KEYS = ["schema", "generated_at", "tool", "clusters", "findings", "coverage", "kpis"]
CLUSTER_KEYS = {"name", "arn", "account", "region", "environment", "cni_identity", "compliant"}
FINDING_KEYS = {
    "rule_id",
    "severity",
    "status",
    "cluster",
    "account",
    "region",
    "resource",
    "title",
    "message",
    "evidence",
    "remediation",
    "location",
    "fingerprint",
}


def test_top_level_keys_are_the_contract_plus_kind(report: Report) -> None:
    doc = json.loads(render(report, "json"))
    assert [k for k in doc if k != "kind"] == CONTRACT_KEYS
    assert doc["kind"] == "live"
    assert doc["schema"] == "cniguard.report/v1"
    assert doc["tool"] == {"name": "cniguard", "version": "0.1.0"}


def test_clusters_and_findings_carry_the_contract_fields(report: Report) -> None:
    doc = json.loads(render(report, "json"))
    assert all(c.keys() >= CLUSTER_KEYS for c in doc["clusters"])
    assert all(f.keys() >= FINDING_KEYS for f in doc["findings"])
    assert doc["findings"][-1]["location"] == {"file": "infra/eks/main.tf", "line": 48}
    assert doc["findings"][0]["location"] is None


def test_every_format_renders_the_same_from_a_reloaded_report(report: Report) -> None:
    reloaded = report_from_json(json.loads(render(report, "json")))
    assert reloaded == report
    formats = [f for f in FORMATS if f != "asff"]  # ASFF refuses the sample's IaC finding
    assert [render(reloaded, f) for f in formats] == [render(report, f) for f in formats]
