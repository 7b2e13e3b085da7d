"""What a CNI outage on one cluster burns per hour, from the inventory at scan time.

- NotReady nodes (the ones CNI031 counts: the network plugin is not ready) are paid for and run
  nothing: each costs its on-demand hourly price (instance type and region from the node labels).
- Pods stuck in ``ContainerCreating`` (CNI030) are stranded capacity: counted as pods here and as
  pod-hours over the history; their requests are not collected, so no money is put on them.
- Engineer time is ``responders x engineer_hourly_rate`` per outage hour, only when configured.

The hourly figures go into the evidence of failing CNI030/CNI031/CNI032 findings (``cost``), so
the stored history can multiply them by each incident's open time (``store/kpi_cost.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from cniguard.analysis import ClusterView
from cniguard.cost.prices import PriceBook
from cniguard.model.finding import Finding
from cniguard.model.kube import Node
from cniguard.rules.symptoms import NETWORK_NOT_READY_MARKERS

SYMPTOM_RULES = ("CNI030", "CNI031", "CNI032")
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
LEGACY_INSTANCE_TYPE_LABEL = "beta.kubernetes.io/instance-type"
REGION_LABEL = "topology.kubernetes.io/region"


def network_not_ready(node: Node) -> bool:
    """CNI031's test: NotReady because the network plugin is not ready."""
    text = f"{node.ready_message or ''} {node.ready_reason or ''}".lower()
    return node.ready is False and any(m in text for m in NETWORK_NOT_READY_MARKERS)


def instance_type(node: Node) -> str | None:
    return node.labels.get(INSTANCE_TYPE_LABEL) or node.labels.get(LEGACY_INSTANCE_TYPE_LABEL)


def cluster_cost(view: ClusterView, findings: list[Finding]) -> dict[str, Any] | None:
    """The hourly cost block of a cluster with a failing symptom; None when none fails."""
    failing = {f.rule_id: f for f in findings if f.status == "fail" and f.rule_id in SYMPTOM_RULES}
    if not failing:
        return None
    cfg = view.config.cost
    book = PriceBook.for_inventory(cfg, view.inventory.meta)
    nodes = [n for n in (view.kube.nodes or ()) if network_not_ready(n)] if view.kube else []
    per_hour = 0.0
    priced = 0
    unpriced: Counter[str] = Counter()
    sources: set[str] = set()
    for node in nodes:
        itype = instance_type(node)
        price = book.price(node.labels.get(REGION_LABEL) or view.cluster.region, itype)
        if price.hourly is None:
            unpriced[itype or "(no instance-type label)"] += 1
            continue
        per_hour += price.hourly
        priced += 1
        sources.add(price.source)
    stranded = failing["CNI030"].evidence.get("stuck_pods") if "CNI030" in failing else 0
    engineer = (
        round(cfg.engineer_hourly_rate * cfg.responders, 2)
        if cfg.engineer_hourly_rate is not None
        else None
    )
    return {
        "currency": cfg.currency,
        "not_ready_nodes": len(nodes),
        "not_ready_nodes_priced": priced,
        # None when no NotReady node has a price: unknown, not free
        "not_ready_nodes_per_hour": round(per_hour, 4) if priced or not nodes else None,
        "unpriced_instance_types": dict(sorted(unpriced.items())),
        "price_sources": sorted(sources),
        "stranded_pods": stranded,
        "engineer_per_hour": engineer,
        "engineer_time": "counted" if engineer is not None else "off (cost.engineer_hourly_rate)",
    }


def with_cost(view: ClusterView, findings: list[Finding]) -> list[Finding]:
    """The findings, failing symptom findings carrying the cluster's cost block as evidence.

    A cost that cannot be worked out is an ``error`` block (its cost unknown), never a crash of
    the report and never 0."""
    try:
        block = cluster_cost(view, findings)
    except Exception as exc:  # the audit's verdicts must survive a cost bug
        block = {"error": f"{type(exc).__name__}: {exc}"}
    if block is None:
        return findings
    return [
        replace(f, evidence={**f.evidence, "cost": block})
        if f.status == "fail" and f.rule_id in SYMPTOM_RULES
        else f
        for f in findings
    ]


def fleet_cost(blocks: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    """The report's fleet cost section: the sum of the clusters' hourly burn (a cluster whose
    cost failed counts as unpriced)."""
    failed = len([b for b in blocks if "error" in b])
    blocks = [b for b in blocks if "error" not in b]
    per_hour = [b["not_ready_nodes_per_hour"] for b in blocks]
    engineer = [b["engineer_per_hour"] for b in blocks if b["engineer_per_hour"] is not None]
    unpriced: Counter[str] = Counter()
    for b in blocks:
        unpriced.update(b["unpriced_instance_types"])
    known = [p for p in per_hour if p is not None]
    return {
        "currency": currency,
        "clusters_in_outage": len(blocks) + failed,
        "clusters_cost_failed": failed,
        "not_ready_nodes": sum(b["not_ready_nodes"] for b in blocks),
        "not_ready_nodes_per_hour": round(sum(known), 4)
        if known or not (blocks or failed)
        else None,
        "not_ready_nodes_unpriced": sum(unpriced.values()),
        "stranded_pods": sum(b["stranded_pods"] or 0 for b in blocks),
        "engineer_per_hour": round(sum(engineer), 2) if engineer else None,
        "price_sources": sorted({s for b in blocks for s in b["price_sources"]}),
    }
