"""The shipped Prometheus alert rules are valid YAML and only use metrics that /metrics serves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from cniguard.web import metrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "cniguard-alerts.yml"


def test_alert_rules_use_exposed_metrics() -> None:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules = doc["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [
        "CniguardPodsStuckContainerCreating",
        "CniguardNodesNotReadyNetworkPlugin",
        "CniguardClusterLostCniPermissions",
        "CniguardIrsaComplianceDropped",
        "CniguardNodeRoleFindings",
        "CniguardScansStale",
    ]
    exposed = set(re.findall(r'"(cniguard_[a-z_]+)"', Path(metrics.__file__).read_text()))
    used = {m for r in rules for m in re.findall(r"cniguard_[a-z_]+", r["expr"])}
    assert used <= exposed, used - exposed
    assert all(r["labels"]["severity"] in ("critical", "warning") for r in rules)


def test_every_alert_links_its_runbook_and_dashboard_list() -> None:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules = doc["groups"][0]["rules"]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "history-and-dashboard.md").read_text()
    anchors = set(re.findall(r'<a id="(runbook-[a-z-]+)"></a>', docs))
    for rule in rules:
        runbook = rule["annotations"]["runbook_url"]
        assert runbook.startswith(
            "https://docs.example.internal/cniguard/history-and-dashboard.md#"
        )
        assert runbook.partition("#")[2] in anchors, rule["alert"]
        assert rule["annotations"]["dashboard_url"].startswith("https://cniguard.example.internal/")
    assert [r["annotations"]["dashboard_url"] for r in rules][2] == (
        "https://cniguard.example.internal/findings?cluster={{ $labels.cluster | urlquery }}"
    )
