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
