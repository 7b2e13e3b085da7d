"""``cost_of_cni_incidents`` and ``cni_permission_exposure`` over a stored month of history."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cniguard.model.finding import Finding
from cniguard.store import save_report
from cniguard.store.database import get_engine
from cniguard.store.kpi import compute_kpis
from store.factory import arn, cluster, finding, report

UNTIL = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
BUNDLED = "bundled@2026-07-20"
SHOP_COST = {  # 4 NotReady m5.xlarge, us-east-1 list price 0.192 each = 0.768 per hour
    "currency": "USD",
    "not_ready_nodes": 4,
    "not_ready_nodes_priced": 4,
    "not_ready_nodes_per_hour": 0.768,
    "unpriced_instance_types": {},
    "price_sources": [BUNDLED],
    "stranded_pods": 12,
    "engineer_per_hour": 200.0,  # 2 responders x 100
    "engineer_time": "counted",
}
BATCH_COST = {  # 2 NotReady nodes: a c5.large (0.085) and a type without a price
    **SHOP_COST,
    "not_ready_nodes": 2,
    "not_ready_nodes_priced": 1,
    "not_ready_nodes_per_hour": 0.085,
    "unpriced_instance_types": {"x9.huge": 1},
    "stranded_pods": 0,
}


def _fleet() -> list[Any]:
    return [cluster("shop", environment="prod", production=True), cluster("batch")]


def _symptom(rule_id: str, name: str, cost: dict[str, Any]) -> Finding:
    return finding(
        rule_id,
        name,
        severity="critical",
        resource=f"{arn(name)}/{rule_id}",
        evidence={"cost": cost},
    )


@pytest.fixture
def month(tmp_path: Path) -> str:
    """November 2026: two CNI incidents.

    1. shop (prod): CNI030, CNI031 and CNI032 fail at 11-03 10:00; CNI030/031 are clean at
       16:00, CNI032 at 18:00.
    2. batch (dev): CNI031 fails from 11-20 22:00 to 11-21 10:30 (seen twice while open).
    """
    url = f"sqlite:///{tmp_path / 'month.db'}"
    shop = [_symptom(r, "shop", SHOP_COST) for r in ("CNI030", "CNI031", "CNI032")]
    batch = [_symptom("CNI031", "batch", BATCH_COST)]
    for at, findings in (
        ("2026-11-03T10:00:00Z", shop),
        ("2026-11-03T16:00:00Z", shop[2:]),
        ("2026-11-03T18:00:00Z", []),
        ("2026-11-20T22:00:00Z", batch),
        ("2026-11-21T04:00:00Z", batch),
        ("2026-11-21T10:30:00Z", []),
        ("2026-11-30T12:00:00Z", []),
    ):
        save_report(url, report(at, _fleet(), findings))
    return url


def test_a_month_of_two_incidents_costs_what_the_hand_calculation_says(month: str) -> None:
    # Incident 1, shop (prod):
    #   NotReady nodes: CNI031 open 10:00 -> 16:00 = 6 h; 6 h x 4 nodes = 24 node-hours;
    #                   6 h x 0.768 = 4.608
    #   stranded pods:  CNI030 open 6 h x 12 pods = 72 pod-hours (no money: requests unknown)
    #   engineer time:  union of the three incidents 10:00 -> 18:00 = 8 h (CNI032 closed last,
    #                   the three symptoms count once); 8 h x 200 = 1600
    #   prod total:     4.608 + 1600 = 1604.608 -> 1604.61
    # Incident 2, batch (dev):
    #   CNI031 open 11-20 22:00 -> 11-21 10:30 = 12.5 h; 12.5 h x 2 nodes = 25 node-hours;
    #   priced part 12.5 h x 0.085 = 1.0625; the x9.huge node has no price: incomplete
    #   engineer time 12.5 h x 200 = 2500; dev total 2501.0625 -> 2501.06 (a lower bound)
    # Fleet: 4.608 + 1.0625 = 5.6705 node cost; 1600 + 2500 = 4100 engineer; 4105.6705 -> 4105.67
    cost = compute_kpis(get_engine(month), dt.timedelta(days=30), UNTIL)["cost_of_cni_incidents"]
    prod = {
        "amount": 1604.61,
        "currency": "USD",
        "complete": True,
        "incidents": 3,
        "incidents_unpriced": 0,
        "not_ready_node_hours": 24.0,
        "not_ready_node_cost": 4.61,
        "stranded_pod_hours": 72.0,
        "engineer_hours": 8.0,
        "engineer_cost": 1600.0,
        "price_sources": [BUNDLED],
    }
    dev = {
        "amount": 2501.06,
        "currency": "USD",
        "complete": False,
        "incidents": 1,
        "incidents_unpriced": 1,
        "not_ready_node_hours": 25.0,
        "not_ready_node_cost": 1.06,
        "stranded_pod_hours": 0.0,
        "engineer_hours": 12.5,
        "engineer_cost": 2500.0,
        "price_sources": [BUNDLED],
    }
    assert cost == {
        "amount": 4105.67,
        "currency": "USD",
        "complete": False,
        "incidents": 4,
        "incidents_unpriced": 1,
        "not_ready_node_hours": 49.0,
        "not_ready_node_cost": 5.67,
        "stranded_pod_hours": 72.0,
        "engineer_hours": 20.5,
        "engineer_cost": 4100.0,
        "price_sources": [BUNDLED],
        "by_environment": {"dev": dev, "prod": prod},
        "by_cluster": {
            arn("batch"): {"environment": "dev", **dev},
            arn("shop"): {"environment": "prod", **prod},
        },
    }


def test_the_window_clips_incidents(month: str) -> None:
    # 10 days up to 12-01: from 11-21 00:00. Incident 1 (11-03) is outside; incident 2 counts
    # from 00:00 to 10:30 = 10.5 h: 21 node-hours, 10.5 x 0.085 = 0.8925, 10.5 x 200 = 2100
    cost = compute_kpis(get_engine(month), dt.timedelta(days=10), UNTIL)["cost_of_cni_incidents"]
    assert (
        cost["amount"],
        cost["incidents"],
        cost["not_ready_node_hours"],
        cost["not_ready_node_cost"],
        cost["engineer_hours"],
        list(cost["by_environment"]),
    ) == (2100.89, 1, 21.0, 0.89, 10.5, ["dev"])


def test_exposure_follows_each_clusters_latest_scan(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exposure.db'}"
    block = {
        "cluster": arn("shop"),
        "actions": ["ec2:CreateNetworkInterface"],
        "node_groups": [
            {"node_group": "ng", "node_role": "r", "pods_reach_imds": "yes", "nodes": 6}
        ],
        "nodes_exposed": 6,
        "pods_exposed": 140,
    }
    exposed = {"exposure": {"clusters": [block]}}
    migrated: dict[str, Any] = {"exposure": {"clusters": []}}
    first = replace(report("2026-11-10T00:00:00Z", _fleet()), kpis=exposed)
    save_report(url, first)
    kpis = compute_kpis(get_engine(url), dt.timedelta(days=30), UNTIL)
    assert kpis["cni_permission_exposure"] == {
        "clusters_exposed": 1,
        "clusters_exposure_unknown": 0,
        "nodes_exposed": 6,
        "pods_exposed": 140,
        "actions": ["ec2:CreateNetworkInterface"],
    }
    save_report(url, replace(report("2026-11-20T00:00:00Z", _fleet()), kpis=migrated))
    kpis = compute_kpis(get_engine(url), dt.timedelta(days=30), UNTIL)
    assert kpis["cni_permission_exposure"] == {
        "clusters_exposed": 0,
        "clusters_exposure_unknown": 0,
        "nodes_exposed": 0,
        "pods_exposed": 0,  # falls to 0 as the cluster migrates
        "actions": [],
    }


def test_the_kpi_command_rows(month: str) -> None:
    from cniguard.cost.text import kpi_rows

    kpis = compute_kpis(get_engine(month), dt.timedelta(days=30), UNTIL)
    assert kpi_rows(kpis) == [
        (
            "Cost of CNI incidents",
            "at least USD 4,105.67 (1 part(s) without a price) over 4 incident(s) "
            "(dev USD 2,501.06, prod USD 1,604.61)",
        ),
        ("Node-hours / stranded pod-hours", "49 / 72; prices: bundled@2026-07-20"),
        (
            "Exposed to CNI permissions",
            "0 cluster(s), 0 node(s), 0 pod(s); 0 ENI action(s); 2 cluster(s) unknown",
        ),
    ]


def test_dashboard_tiles_and_metrics(month: str) -> None:
    from fastapi.testclient import TestClient

    from cniguard.web.app import create_app

    client = TestClient(create_app(month))
    page = client.get("/", params={"since": "3650d"}).text
    assert (
        '<div class="tile" id="kpi-cni-cost"><span class="value">&ge; USD 4,105.67</span>'
        '<span class="name">cost of CNI incidents (4 incident(s), 1 without a price)</span></div>'
    ) in page
    assert (
        '<div class="tile" id="kpi-cni-exposure"><span class="value">0</span><span class="name">'
        "pods exposed to the CNI's permissions (0 cluster(s), 0 node(s); "
        "2 cluster(s) unknown)</span></div>"
    ) in page
    metrics = client.get("/metrics").text.splitlines()
    assert [line for line in metrics if line.startswith("cniguard_cni_incident_cost{")] == [
        'cniguard_cni_incident_cost{complete="false",currency="USD",environment="dev"} 2501.06',
        'cniguard_cni_incident_cost{complete="true",currency="USD",environment="prod"} 1604.61',
    ]
    assert "cniguard_clusters_exposed_to_cni_permissions 0.0" in metrics
    assert "cniguard_nodes_exposed_to_cni_permissions 0.0" in metrics
    assert "cniguard_pods_exposed_to_cni_permissions 0.0" in metrics


def test_a_window_without_incidents_says_so(month: str) -> None:
    from fastapi.testclient import TestClient

    from cniguard.cost.text import kpi_rows
    from cniguard.web.app import create_app

    kpis = compute_kpis(get_engine(month), dt.timedelta(days=5), UNTIL)
    assert kpi_rows(kpis)[0] == ("Cost of CNI incidents", "no CNI incident in the window")
    page = TestClient(create_app(month)).get("/", params={"since": "1h"}).text
    assert '<div class="tile" id="kpi-cni-cost"><span class="value">none</span>' in page
