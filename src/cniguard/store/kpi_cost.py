"""FinOps KPIs over the stored history: ``cost_of_cni_incidents`` and ``cni_permission_exposure``.

Cost of the CNI incidents (CNI030-CNI032) open during the window, each clipped to the window:

- NotReady nodes: a CNI031 incident's open hours x the hourly price of its NotReady nodes
  (``evidence.cost.not_ready_nodes_per_hour`` of its finding, as last seen);
- stranded pods: a CNI030 incident's open hours x its stuck pods (pod-hours; no money: pod
  requests are not collected);
- engineer time: the hours in which any CNI incident of a cluster was open (their union, so three
  symptoms of one outage count once) x ``evidence.cost.engineer_per_hour``, when configured.

A finding stored without a cost block, or whose NotReady nodes had no price, makes its part
unknown: the amount then covers the rest and ``complete`` is false; with nothing priced the
amount is ``None``, never 0. Totals are also given per environment (the cluster's latest one)
and per cluster.

Exposure: each cluster at its latest scan, from that scan's ``kpis.exposure`` (a scan stored
before exposure was reported leaves the cluster unknown).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, or_, select

from cniguard.store.schema import ClusterLatest, Incident, Scan, StoredFinding
from cniguard.store.scope import as_utc

COST_RULES = ("CNI030", "CNI031", "CNI032")
HOUR = dt.timedelta(hours=1)
NO_ENVIRONMENT = "(none)"


@dataclass
class _Books:
    """Cost parts of one environment (or the fleet)."""

    incidents: int = 0
    node_hours: float = 0.0
    node_cost: float = 0.0
    stranded_pod_hours: float = 0.0
    engineer_hours: float = 0.0
    engineer_cost: float = 0.0
    priced: int = 0  # parts with a price (node or engineer)
    unknown: int = 0  # parts that had to be priced and could not be
    sources: set[str] = field(default_factory=set)
    currencies: set[str] = field(default_factory=set)

    def add(self, other: _Books) -> None:
        self.incidents += other.incidents
        self.node_hours += other.node_hours
        self.node_cost += other.node_cost
        self.stranded_pod_hours += other.stranded_pod_hours
        self.engineer_hours += other.engineer_hours
        self.engineer_cost += other.engineer_cost
        self.priced += other.priced
        self.unknown += other.unknown
        self.sources |= other.sources
        self.currencies |= other.currencies

    def as_json(self) -> dict[str, Any]:
        amount = self.node_cost + self.engineer_cost
        mixed = len(self.currencies) > 1
        return {
            "amount": None if mixed or (self.unknown and not self.priced) else round(amount, 2),
            "currency": "mixed" if mixed else next(iter(self.currencies), None),
            "complete": self.unknown == 0 and not mixed,
            "incidents": self.incidents,
            "incidents_unpriced": self.unknown,
            "not_ready_node_hours": round(self.node_hours, 2),
            "not_ready_node_cost": round(self.node_cost, 2),
            "stranded_pod_hours": round(self.stranded_pod_hours, 2),
            "engineer_hours": round(self.engineer_hours, 2),
            "engineer_cost": round(self.engineer_cost, 2),
            "price_sources": sorted(self.sources),
        }


def _union_hours(spans: Iterable[tuple[dt.datetime, dt.datetime]]) -> float:
    total = dt.timedelta()
    end: dt.datetime | None = None
    for low, high in sorted(spans):
        begin = max(low, end) if end is not None else low
        if high > begin:
            total += high - begin
            end = high
    return total / HOUR


def cost_of_cni_incidents(
    conn: Connection, start: dt.datetime | None, until: dt.datetime
) -> dict[str, Any]:
    """The cost of CNI incidents open between ``start`` (all history when None) and ``until``."""
    query = (
        select(
            Incident.cluster,
            Incident.rule_id,
            Incident.opened_at,
            Incident.resolved_at,
            StoredFinding.evidence,
            ClusterLatest.environment,
        )
        .join(StoredFinding, StoredFinding.id == Incident.finding_id)
        .outerjoin(ClusterLatest, ClusterLatest.arn == Incident.cluster)
        .where(Incident.rule_id.in_(COST_RULES), Incident.opened_at <= until)
    )
    if start is not None:
        query = query.where(or_(Incident.resolved_at.is_(None), Incident.resolved_at >= start))
    books: dict[tuple[str, str], _Books] = defaultdict(_Books)  # by (environment, cluster)
    spans: dict[tuple[str, str], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    engineer_rate: dict[tuple[str, str], float] = {}  # any incident's evidence may carry it
    for cluster, rule_id, opened, resolved, evidence, environment in conn.execute(query):
        low = max(as_utc(opened), start) if start is not None else as_utc(opened)
        high = min(as_utc(resolved), until) if resolved is not None else until
        hours = max((high - low) / HOUR, 0.0)
        key = (environment or NO_ENVIRONMENT, cluster)
        book = books[key]
        book.incidents += 1
        cost = evidence.get("cost") if isinstance(evidence, dict) else None
        spans[key].append((low, high))
        if not isinstance(cost, dict) or "error" in cost:
            book.unknown += 1  # stored before cost was reported, or failed: unknown, not free
            continue
        book.currencies.add(str(cost.get("currency")))
        if cost.get("engineer_per_hour") is not None:
            engineer_rate[key] = float(cost["engineer_per_hour"])
        if rule_id == "CNI030" and isinstance(cost.get("stranded_pods"), int):
            book.stranded_pod_hours += hours * cost["stranded_pods"]
        if rule_id == "CNI031":
            nodes = int(cost.get("not_ready_nodes") or 0)
            per_hour = cost.get("not_ready_nodes_per_hour")
            book.node_hours += hours * nodes
            if per_hour is None or cost.get("not_ready_nodes_priced") != nodes:
                book.unknown += 1
            if per_hour is not None and nodes:
                book.node_cost += hours * float(per_hour)
                book.priced += 1
                book.sources.update(cost.get("price_sources") or ())
    for key, cluster_spans in spans.items():
        if key in engineer_rate:
            hours = _union_hours(cluster_spans)
            books[key].engineer_hours += hours
            books[key].engineer_cost += hours * engineer_rate[key]
            books[key].priced += 1
    fleet = _Books()
    by_env: dict[str, _Books] = defaultdict(_Books)
    for (env, _), book in books.items():
        fleet.add(book)
        by_env[env].add(book)
    return {
        **fleet.as_json(),
        "by_environment": {e: b.as_json() for e, b in sorted(by_env.items())},
        "by_cluster": {
            cluster: {"environment": env, **b.as_json()}
            for (env, cluster), b in sorted(books.items(), key=lambda item: item[0][1])
        },
    }


def cni_permission_exposure(
    conn: Connection, start: dt.datetime | None, until: dt.datetime
) -> dict[str, Any]:
    """Clusters, nodes and ENI actions exposed, each cluster at its latest scan in the window."""
    rows = conn.execute(
        select(ClusterLatest.arn, ClusterLatest.scan_id).where(
            ClusterLatest.generated_at <= until,
            *((ClusterLatest.generated_at >= start,) if start is not None else ()),
        )
    ).all()
    scan_ids = sorted({r.scan_id for r in rows})
    exposure_of: dict[int, dict[str, Any] | None] = {}
    for scan_id, kpis in conn.execute(select(Scan.id, Scan.kpis).where(Scan.id.in_(scan_ids))):
        block = kpis.get("exposure") if isinstance(kpis, dict) else None
        exposure_of[scan_id] = block if isinstance(block, dict) else None
    exposed = unknown = 0
    nodes: int | None = 0
    pods: int | None = 0
    actions: set[str] = set()
    for arn, scan_id in rows:
        block = exposure_of.get(scan_id)
        if block is None:
            unknown += 1
            continue
        mine = next((c for c in block.get("clusters", ()) if c.get("cluster") == arn), None)
        if mine is None:
            continue
        if not any(g.get("pods_reach_imds") == "yes" for g in mine.get("node_groups", ())):
            unknown += 1
            continue
        exposed += 1
        actions.update(mine.get("actions", ()))
        count = mine.get("nodes_exposed")
        nodes = None if nodes is None or count is None else nodes + int(count)
        running = mine.get("pods_exposed")  # None too in scans stored before pods were counted
        pods = None if pods is None or running is None else pods + int(running)
    return {
        "clusters_exposed": exposed,
        "clusters_exposure_unknown": unknown,
        "nodes_exposed": nodes,
        "pods_exposed": pods,
        "actions": sorted(actions),
    }


def finops_kpis(conn: Connection, start: dt.datetime | None, until: dt.datetime) -> dict[str, Any]:
    return {
        "cost_of_cni_incidents": cost_of_cni_incidents(conn, start, until),
        "cni_permission_exposure": cni_permission_exposure(conn, start, until),
    }
