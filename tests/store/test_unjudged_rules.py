"""Fail closed: a later report that could not judge a rule never resolves that rule's failure.

The engine reports such a rule as ``unknown`` on the cluster (another resource, so another
fingerprint than the failure) and names no gap: a live source it did not collect, or a rule that
raised. Neither may pass for a fix.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from cniguard.demo.fleet import build_fleet, demo_config
from cniguard.engine import evaluate
from cniguard.store import save_report
from cniguard.store.database import get_engine
from cniguard.store.kpi import compute_kpis
from cniguard.store.queries import cluster_incidents, list_findings

from .factory import arn, cluster, finding, report

D1, D2 = "2026-03-01T06:00:00Z", "2026-03-02T06:00:00Z"
ROLE = "arn:aws:iam::111122223333:role/alpha-vpc-cni"
SOURCE_RULES = ("CNI015", "CNI030", "CNI031", "CNI032", "CNI040", "CNI041")


def _open_rules(url: str) -> list[tuple[str, str]]:
    return sorted((f["rule_id"], f["cluster"]) for f in list_findings(get_engine(url), "open"))


def test_unknown_on_the_cluster_keeps_the_failure_open(db_url: str) -> None:
    failing = finding("CNI040", "alpha", severity="critical", resource=ROLE)
    unknown = finding("CNI040", "alpha", status="unknown", severity="critical",
                      resource=arn("alpha"), evidence={"missing": ["cloudtrail"]})
    save_report(db_url, report(D1, [cluster("alpha")], [failing]))
    save_report(db_url, report(D2, [cluster("alpha")], [unknown], sources=("aws", "k8s")))
    engine = get_engine(db_url)
    assert {(f["resource"], f["state"], f["resolved_at"]) for f in list_findings(engine)} == {
        (ROLE, "open", None), (arn("alpha"), "unknown", None)}
    assert [(i["rule_id"], i["resolution"]) for i in cluster_incidents(engine, arn("alpha"))] == [
        ("CNI040", None)]


def test_a_rule_that_raised_keeps_its_failure_open(db_url: str) -> None:
    failing = finding("CNI002", "alpha")
    raised = replace(
        finding("CNI002", "alpha", status="unknown", resource=arn("alpha"),
                evidence={"error": "KeyError: 'Statement'"}),
        fingerprint="CNI002|alpha|rule-error",
    )
    save_report(db_url, report(D1, [cluster("alpha", "node_role")], [failing]))
    save_report(db_url, report(D2, [cluster("alpha", "node_role")], [raised]))
    assert _open_rules(db_url) == [("CNI002", arn("alpha"))]


def test_unknown_on_another_cluster_does_not_block(db_url: str) -> None:
    failing = finding("CNI002", "alpha")
    elsewhere = finding("CNI002", "beta", status="unknown", resource=arn("beta"))
    save_report(db_url, report(D1, [cluster("alpha", "node_role")], [failing]))
    save_report(db_url, report(D2, [cluster("alpha"), cluster("beta")], [elsewhere]))
    assert _open_rules(db_url) == []


@pytest.mark.parametrize(
    ("rule_id", "sources", "state"),
    [
        ("CNI030", ("aws", "cloudtrail"), "open"),
        ("CNI030", ("aws", "k8s"), "resolved"),
        ("CNI040", ("aws", "k8s"), "open"),
        ("CNI040", ("aws", "cloudtrail"), "resolved"),
        ("CNI002", ("aws",), "resolved"),
        ("CNI030", (), "open"),  # a report that names no source collected none
    ],
)
def test_a_source_not_collected_cannot_resolve_the_rules_that_need_it(
    db_url: str, rule_id: str, sources: tuple[str, ...], state: str
) -> None:
    failing = finding(rule_id, "alpha", severity="critical")
    save_report(db_url, report(D1, [cluster("alpha")], [failing]))
    save_report(db_url, report(D2, [cluster("alpha")], sources=sources))
    assert [f["state"] for f in list_findings(get_engine(db_url))] == [state]


def test_engine_scan_without_kubernetes_or_cloudtrail_resolves_nothing(db_url: str) -> None:
    inventory = build_fleet()
    first = evaluate(inventory, demo_config(), generated_at=D1)
    save_report(db_url, first)
    failing = sorted({(f.rule_id, f.cluster) for f in first.findings
                      if f.rule_id in SOURCE_RULES and f.active})
    assert {rule_id for rule_id, _ in failing} == set(SOURCE_RULES)
    assert set(failing) <= set(_open_rules(db_url))
    save_report(db_url, evaluate(replace(inventory, sources=("demo", "aws")), demo_config(),
                                 generated_at=D2))
    assert set(failing) <= set(_open_rules(db_url))
    kpis = compute_kpis(get_engine(db_url))
    assert kpis["mttr_hours"] == {"cni_incidents": None, "resolved_incidents": 0}
