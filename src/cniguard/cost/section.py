"""The report's FinOps sections (``kpis.cost`` and ``kpis.exposure``): added keys, schema v1."""

from __future__ import annotations

from typing import Any

from cniguard.analysis import ClusterView
from cniguard.cost.exposure import cluster_exposure, fleet_exposure
from cniguard.cost.incident import SYMPTOM_RULES, fleet_cost
from cniguard.model.finding import Finding


def finops_kpis(views: list[ClusterView], findings: list[Finding]) -> dict[str, Any]:
    """``cost`` (live and demo reports: IaC has no outage) and ``exposure`` for the report."""
    if not views:
        return {}
    config = views[0].config
    blocks: dict[str, dict[str, Any]] = {}
    for f in findings:
        if f.status == "fail" and f.rule_id in SYMPTOM_RULES and "cost" in f.evidence:
            blocks.setdefault(f.cluster, f.evidence["cost"])
    exposures = [b for b in (_exposure(v) for v in views) if b is not None]
    section: dict[str, Any] = {}
    if not views[0].is_iac:
        section["cost"] = fleet_cost(list(blocks.values()), config.cost.currency)
    section["exposure"] = fleet_exposure(exposures)
    return section


def _exposure(view: ClusterView) -> dict[str, Any] | None:
    """The cluster's exposure; one that cannot be worked out is unknown, not a crash."""
    try:
        return cluster_exposure(view)
    except Exception as exc:  # the audit's verdicts must survive an exposure bug
        return {
            "cluster": view.cluster.arn,
            "error": f"{type(exc).__name__}: {exc}",
            "actions": [],
            "node_groups": [],
            "nodes_exposed": None,
            "pods_exposed": None,
        }
