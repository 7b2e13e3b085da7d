"""KPIs over a small three-scan history, with exact expected values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cniguard.store import save_report
from cniguard.store.database import get_engine
from cniguard.store.kpi import compute_kpis

from .factory import arn, cluster, finding, report

NOW = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
MODES0 = dict.fromkeys(
    ("irsa", "pod_identity", "node_role", "mixed", "none", "not_applicable", "unknown"), 0
)
SEV0 = dict.fromkeys(("critical", "high", "medium", "low", "info"), 0)


def _fleet(p2_mode: str, d3_mode: str) -> list[Any]:
    return [
        cluster("p1", "irsa", production=True),
        cluster("p2", p2_mode, production=True),  # type: ignore[arg-type]
        cluster("d1", "mixed"),
        cluster("d2", "not_applicable"),
        cluster("d3", d3_mode),  # type: ignore[arg-type]
    ]


@pytest.fixture
def history(db_url: str) -> str:
    before = [
        finding("CNI002", "p2", severity="high"),
        finding("CNI002", "d1", severity="critical"),
        finding("CNI030", "p2", severity="critical", resource="kube-system/pods"),
        finding("CNI011", "p2", severity="medium", resource="oidc"),
    ]
    after = [before[1], before[3]]
    save_report(db_url, report("2026-03-01T06:00:00Z", _fleet("node_role", "unknown"), before))
    save_report(db_url, report("2026-03-02T06:00:00Z", _fleet("node_role", "unknown"), before))
    save_report(db_url, report("2026-03-02T18:00:00Z", _fleet("irsa", "irsa"), after))
    return db_url


DAY1 = {
    "day": "2026-03-01",
    "clusters": 5,
    "irsa_compliance_pct": 25.0,
    "irsa_compliance_pct_production": 50.0,
    "clusters_by_identity": {**MODES0, "irsa": 1, "node_role": 1, "mixed": 1,
                             "not_applicable": 1, "unknown": 1},
    "prod_clusters_by_identity": {**MODES0, "irsa": 1, "node_role": 1},
    "coverage_pct": 80.0,
    "open_findings_by_severity": {**SEV0, "critical": 2, "high": 1, "medium": 1},
    "node_role_findings_high_critical": 2,
    "mttr_hours": {"cni_incidents": None, "resolved_incidents": 0},
}
DAY2_FLEET = {
    "clusters": 5,
    "irsa_compliance_pct": 75.0,
    "irsa_compliance_pct_production": 100.0,
    "clusters_by_identity": {**MODES0, "irsa": 3, "mixed": 1, "not_applicable": 1},
    "prod_clusters_by_identity": {**MODES0, "irsa": 2},
    "coverage_pct": 100.0,
}
DAY2 = {
    "day": "2026-03-02",
    **DAY2_FLEET,
    "open_findings_by_severity": {**SEV0, "critical": 1, "medium": 1},
    "node_role_findings_high_critical": 1,
    "mttr_hours": {"cni_incidents": 36.0, "resolved_incidents": 1},
}

UNPRICED_CNI030: dict[str, Any] = {
    "amount": None,
    "currency": None,
    "complete": False,
    "incidents": 1,
    "incidents_unpriced": 1,
    "not_ready_node_hours": 0.0,
    "not_ready_node_cost": 0.0,
    "stranded_pod_hours": 0.0,
    "engineer_hours": 0.0,
    "engineer_cost": 0.0,
    "price_sources": [],
}


def test_kpis_over_thirty_days(history: str) -> None:
    kpis = compute_kpis(get_engine(history), dt.timedelta(days=30), NOW)
    assert kpis == {
        "window": {"since": "2026-02-01T00:00:00Z", "until": "2026-03-03T00:00:00Z"},
        **DAY2_FLEET,
        "open_findings_by_severity": {**SEV0, "critical": 1, "medium": 1},
        "node_role_findings_high_critical": 1,
        "mttr_hours": {"cni_incidents": 36.0, "resolved_incidents": 1},
        "trend": [DAY1, DAY2],
        # FinOps (store/kpi_cost.py): the CNI030 finding was stored without a cost block, so
        # its cost is unknown (None, not 0); no scan reported exposure, so every cluster is unknown
        "cost_of_cni_incidents": {
            **UNPRICED_CNI030,
            "by_environment": {"prod": UNPRICED_CNI030},
            "by_cluster": {arn("p2"): {"environment": "prod", **UNPRICED_CNI030}},
        },
        "cni_permission_exposure": {
            "clusters_exposed": 0,
            "clusters_exposure_unknown": 5,
            "nodes_exposed": 0,
            "pods_exposed": 0,
            "actions": [],
        },
        "latest_run": None,
    }


def test_window_of_one_day_keeps_only_its_scans(history: str) -> None:
    kpis = compute_kpis(get_engine(history), dt.timedelta(days=1), NOW)
    assert [t["day"] for t in kpis["trend"]] == ["2026-03-02"]
    assert kpis["mttr_hours"] == {"cni_incidents": 36.0, "resolved_incidents": 1}


def test_empty_window_has_no_verdicts(history: str) -> None:
    kpis = compute_kpis(get_engine(history), dt.timedelta(hours=3), NOW)
    assert (kpis["clusters"], kpis["irsa_compliance_pct"], kpis["coverage_pct"],
            kpis["mttr_hours"], kpis["trend"]) == (
        0, None, None, {"cni_incidents": None, "resolved_incidents": 0}, [])


def test_stored_demo_matches_the_engines_kpis(db_url: str) -> None:
    from cniguard.demo import DEMO_NOW, build_fleet, demo_config
    from cniguard.engine import evaluate

    demo = evaluate(build_fleet(), demo_config(), generated_at=DEMO_NOW)
    save_report(db_url, demo)
    kpis = compute_kpis(get_engine(db_url))
    shared = ("clusters", "irsa_compliance_pct", "irsa_compliance_pct_production",
              "clusters_by_identity", "prod_clusters_by_identity", "open_findings_by_severity",
              "node_role_findings_high_critical", "coverage_pct")
    assert {k: kpis[k] for k in shared} == {k: demo.kpis[k] for k in shared}
    assert kpis["irsa_compliance_pct"] == 15.4
