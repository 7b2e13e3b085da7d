"""Cost evidence on the outage symptoms (CNI030-CNI032) and the report's cost section."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cniguard.config import Config
from cniguard.cost.settings import CostConfig
from cniguard.engine import evaluate
from cniguard.model.inventory import Inventory
from cniguard.report.summary import facts
from core.scenarios import outage

TYPE = "node.kubernetes.io/instance-type"


def _outage(*types: str | None) -> Inventory:
    """The scenario outage (3 nodes NotReady for the network plugin, 2 stuck pods), its nodes
    labelled with ``types`` (None: no instance-type label)."""
    inv = outage()
    (cluster,) = inv.clusters
    assert cluster.kube is not None and cluster.kube.nodes is not None
    nodes = tuple(
        replace(n, labels={**n.labels, TYPE: t} if t else n.labels)
        for n, t in zip(cluster.kube.nodes, types, strict=True)
    )
    kube = replace(cluster.kube, nodes=nodes)
    return replace(inv, clusters=(replace(cluster, kube=kube),))


def _costs(inv: Inventory, cost: CostConfig | None = None) -> dict[str, Any]:
    report = evaluate(inv, Config(cost=cost or CostConfig()))
    blocks = {f.rule_id: f.evidence.get("cost") for f in report.findings if f.status == "fail"}
    symptoms = {k: v for k, v in blocks.items() if k in ("CNI030", "CNI031", "CNI032")}
    assert set(symptoms) == {"CNI030", "CNI031", "CNI032"}
    assert all(v == symptoms["CNI031"] for v in symptoms.values())  # one block per cluster
    assert all(v is None for k, v in blocks.items() if k not in symptoms)
    return {"cluster": symptoms["CNI031"], "fleet": report.kpis["cost"]}


def test_bundled_prices_and_an_unknown_type() -> None:
    # us-east-1 bundled: m5.large 0.096 + c5.xlarge 0.17 = 0.266 per hour; x9.huge has no price
    costs = _costs(_outage("m5.large", "c5.xlarge", "x9.huge"))
    assert costs["cluster"] == {
        "currency": "USD",
        "not_ready_nodes": 3,
        "not_ready_nodes_priced": 2,
        "not_ready_nodes_per_hour": 0.266,
        "unpriced_instance_types": {"x9.huge": 1},
        "price_sources": ["bundled@2026-07-20"],
        "stranded_pods": 2,
        "engineer_per_hour": None,
        "engineer_time": "off (cost.engineer_hourly_rate)",
    }
    assert costs["fleet"] == {
        "currency": "USD",
        "clusters_in_outage": 1,
        "clusters_cost_failed": 0,
        "not_ready_nodes": 3,
        "not_ready_nodes_per_hour": 0.266,
        "not_ready_nodes_unpriced": 1,
        "stranded_pods": 2,
        "engineer_per_hour": None,
        "price_sources": ["bundled@2026-07-20"],
    }


def test_discount_overrides_and_engineer_time() -> None:
    # m5.large 0.096 x (1 - 0.25) = 0.072, twice = 0.144; x9.huge configured at 1.5 -> 1.644;
    # engineer time 2 responders x 80 = 160 per hour
    cost = CostConfig(discount=0.25, engineer_hourly_rate=80, responders=2, prices={"x9.huge": 1.5})
    block = _costs(_outage("m5.large", "m5.large", "x9.huge"), cost)["cluster"]
    assert (
        block["not_ready_nodes_per_hour"],
        block["not_ready_nodes_priced"],
        block["unpriced_instance_types"],
        block["price_sources"],
        block["engineer_per_hour"],
        block["engineer_time"],
    ) == (1.644, 3, {}, ["bundled@2026-07-20", "config"], 160.0, "counted")


def test_no_price_at_all_is_unknown_not_zero() -> None:
    costs = _costs(_outage(None, "x9.huge", None))
    assert (
        costs["cluster"]["not_ready_nodes_per_hour"],
        costs["cluster"]["unpriced_instance_types"],
        costs["fleet"]["not_ready_nodes_per_hour"],
    ) == (None, {"(no instance-type label)": 2, "x9.huge": 1}, None)


def test_a_healthy_fleet_has_an_empty_cost_section() -> None:
    from core.scenarios import inventory

    report = evaluate(inventory())
    assert report.kpis["cost"] == {
        "currency": "USD",
        "clusters_in_outage": 0,
        "clusters_cost_failed": 0,
        "not_ready_nodes": 0,
        "not_ready_nodes_per_hour": 0,
        "not_ready_nodes_unpriced": 0,
        "stranded_pods": 0,
        "engineer_per_hour": None,
        "price_sources": [],
    }
    assert all("cost" not in f.evidence for f in report.findings)


def test_the_summary_states_the_burn_and_its_limits() -> None:
    report = evaluate(_outage("m5.large", "c5.xlarge", "x9.huge"))
    assert dict(facts(report))["Outage cost"] == (
        "at least USD 0.27/h (1 unpriced) for 3 NotReady node(s) on 1 cluster(s); "
        "2 stranded pod(s); engineer time not counted; prices: bundled@2026-07-20"
    )
    assert dict(facts(report))["Exposed to the CNI's permissions"] == (
        "0 cluster(s), 0 node(s), 0 pod(s); 0 ENI action(s)"
    )


def test_a_cost_bug_leaves_the_audit_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    import cniguard.cost.incident
    import cniguard.cost.section

    def boom(*_: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(cniguard.cost.incident, "cluster_cost", boom)
    monkeypatch.setattr(cniguard.cost.section, "cluster_exposure", boom)
    report = evaluate(_outage("m5.large", "c5.xlarge", "x9.huge"))
    assert {f.rule_id: f.evidence["cost"] for f in report.findings if "cost" in f.evidence} == {
        r: {"error": "ValueError: boom"} for r in ("CNI030", "CNI031", "CNI032")
    }
    cost, exposure = report.kpis["cost"], report.kpis["exposure"]
    assert (cost["clusters_in_outage"], cost["clusters_cost_failed"]) == (1, 1)
    assert cost["not_ready_nodes_per_hour"] is None
    assert (exposure["clusters_exposed"], exposure["clusters_exposure_unknown"]) == (0, 1)
    assert dict(facts(report))["Outage cost"].endswith("cost unknown for 1 cluster(s) (error)")
