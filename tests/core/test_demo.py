"""The demo fleet covers every identity mode and makes every rule fail at least once."""

from __future__ import annotations

from cniguard.demo import DEMO_NOW, build_fleet, demo_config
from cniguard.engine import evaluate
from cniguard.model.codec import inventory_from_json, inventory_to_json
from cniguard.model.finding import IDENTITY_MODES
from cniguard.rules import RULES


def test_every_rule_fails_somewhere() -> None:
    report = evaluate(build_fleet(), demo_config())
    failing = {f.rule_id for f in report.findings if f.status == "fail"}
    assert failing == {r.id for r in RULES}


def test_every_identity_mode_appears() -> None:
    report = evaluate(build_fleet(), demo_config())
    modes = {c.cni_identity for c in report.clusters}
    assert modes == set(IDENTITY_MODES)
    assert len(report.clusters) >= 12
    assert len({c.account for c in report.clusters}) == 3
    assert len({c.region for c in report.clusters}) == 3


def test_demo_verdicts() -> None:
    report = evaluate(build_fleet(), demo_config())
    verdicts = {c.name: (c.cni_identity, c.compliant) for c in report.clusters}
    assert verdicts == {
        "payments-prod": ("irsa", True),
        "checkout-prod": ("node_role", False),
        "search-prod": ("mixed", False),
        "ledger-prod": ("none", False),
        "analytics-prod": ("none", False),
        "partner-prod": ("unknown", None),
        "ml-staging": ("none", False),
        "web-staging": ("irsa", False),
        "api-staging": ("none", False),
        "batch-staging": ("none", False),
        "reporting-dev": ("pod_identity", True),
        "sandbox-dev": ("node_role", False),
        "legacy-dev": ("mixed", False),
        "edge-dev": ("not_applicable", None),
        "jobs-dev": ("not_applicable", None),
        "windows-dev": ("not_applicable", None),
    }


def test_tricky_cases_are_reported_as_users_need_them() -> None:
    report = evaluate(build_fleet(), demo_config())
    by = {(f.rule_id, f.cluster.rsplit("/", 1)[-1], f.status): f for f in report.findings}
    checkout = by[("CNI002", "checkout-prod", "fail")]
    assert checkout.severity == "critical" and checkout.evidence["pods_reach_imds"] is True
    search = [f for f in report.findings if f.rule_id == "CNI002" and "search-prod" in f.cluster]
    assert {f.evidence["policies"][0] for f in search} == {"bootstrap-ec2", "eks-node-networking"}
    detach = by[("CNI040", "ledger-prod", "fail")]
    assert (
        detach.evidence["who"]
        == "arn:aws:sts::111111111111:assumed-role/PlatformAdmin/jane.doe@example.com"
    )
    stuck = by[("CNI030", "ledger-prod", "fail")]
    assert [c["rule_id"] for c in stuck.evidence["likely_cause"]] == ["CNI001", "CNI040"]
    sandbox = by[("CNI011", "sandbox-dev", "fail")]
    assert sandbox.suppression is not None and not sandbox.suppression.expired
    legacy = by[("CNI020", "legacy-dev", "fail")]
    assert legacy.suppression is not None and legacy.suppression.expired
    assert len(report.coverage["expired_suppressions"]) == 2


def test_fleet_is_reproducible_and_round_trips() -> None:
    inv = build_fleet()
    assert inventory_to_json(inv) == inventory_to_json(build_fleet())
    assert inventory_from_json(inventory_to_json(inv)) == inv
    a = evaluate(inv, demo_config(), generated_at=DEMO_NOW).to_json()
    b = evaluate(
        inventory_from_json(inventory_to_json(inv)), demo_config(), generated_at=DEMO_NOW
    ).to_json()
    assert a == b
