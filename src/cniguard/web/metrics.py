"""Prometheus exposition of the store's current state (`/metrics`), read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cniguard.store.queries import latest_cluster_rows
from cniguard.store.schema import Scan, StoredFinding
from cniguard.store.scope import as_utc

CLUSTER_LABELS = ["cluster", "account", "region"]


class StoreCollector(Collector):
    """Gauges by rule, severity, identity mode and environment, plus per-cluster symptoms."""

    def __init__(self, engine: Engine, kpis: dict[str, Any]) -> None:
        self.engine = engine
        self.kpis = kpis

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._findings()
        yield from self._clusters()
        yield from self._kpis()
        yield from self._finops()
        yield from self._last_scan()

    def _findings(self) -> Iterator[GaugeMetricFamily]:
        by_rule = GaugeMetricFamily(
            "cniguard_open_findings",
            "Open (active, unresolved) findings.",
            labels=["rule_id", "severity"],
        )
        by_cluster = GaugeMetricFamily(
            "cniguard_cluster_open_findings",
            "Open findings of one cluster.",
            labels=[*CLUSTER_LABELS, "rule_id", "severity"],
        )
        query = (
            select(
                StoredFinding.cluster,
                StoredFinding.account,
                StoredFinding.region,
                StoredFinding.rule_id,
                StoredFinding.severity,
                func.count(),
            )
            .where(StoredFinding.is_open.is_(True))
            .group_by(
                StoredFinding.cluster,
                StoredFinding.account,
                StoredFinding.region,
                StoredFinding.rule_id,
                StoredFinding.severity,
            )
        )
        totals: dict[tuple[str, str], int] = {}
        with self.engine.connect() as conn:
            for cluster, account, region, rule_id, severity, count in conn.execute(query):
                by_cluster.add_metric([cluster, account, region, rule_id, severity], count)
                key = (rule_id, severity)
                totals[key] = totals.get(key, 0) + int(count)
        for (rule_id, severity), count in sorted(totals.items()):
            by_rule.add_metric([rule_id, severity], count)
        yield by_rule
        yield by_cluster

    def _clusters(self) -> Iterator[GaugeMetricFamily]:
        modes = GaugeMetricFamily(
            "cniguard_clusters",
            "Clusters by CNI identity mode (each at its latest scan).",
            labels=["identity_mode", "environment", "production"],
        )
        stuck = GaugeMetricFamily(
            "cniguard_stuck_pods",
            "Pods stuck in ContainerCreating (CNI030 evidence).",
            labels=CLUSTER_LABELS,
        )
        notready = GaugeMetricFamily(
            "cniguard_notready_nodes",
            "Nodes NotReady: network plugin not ready (CNI031).",
            labels=CLUSTER_LABELS,
        )
        counts: dict[tuple[str, str, str], int] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(latest_cluster_rows()):
                key = (row.identity_mode, row.environment or "", str(row.production).lower())
                counts[key] = counts.get(key, 0) + 1
                labels = [row.arn, row.account, row.region]
                if row.stuck_pods is not None:
                    stuck.add_metric(labels, row.stuck_pods)
                if row.notready_nodes is not None:
                    notready.add_metric(labels, row.notready_nodes)
        for key, count in sorted(counts.items()):
            modes.add_metric(list(key), count)
        yield from (modes, stuck, notready)

    def _kpis(self) -> Iterator[GaugeMetricFamily]:
        compliance = GaugeMetricFamily(
            "cniguard_irsa_compliance_ratio",
            "Clusters compliant with the IRSA-only standard among those with a verdict.",
            labels=["scope"],
        )
        for scope, key in (
            ("all", "irsa_compliance_pct"),
            ("production", "irsa_compliance_pct_production"),
        ):
            if self.kpis.get(key) is not None:
                compliance.add_metric([scope], self.kpis[key] / 100)
        yield compliance
        yield GaugeMetricFamily(
            "cniguard_node_role_findings_high_critical",
            "Open high/critical findings of CNI permissions on worker-node roles (CNI002).",
            value=self.kpis["node_role_findings_high_critical"],
        )
        if self.kpis.get("coverage_pct") is not None:
            yield GaugeMetricFamily(
                "cniguard_coverage_ratio",
                "Clusters read in full by their latest scan.",
                value=self.kpis["coverage_pct"] / 100,
            )
        mttr = self.kpis["mttr_hours"]["cni_incidents"]
        if mttr is not None:
            yield GaugeMetricFamily(
                "cniguard_mttr_seconds",
                "Mean time to fix CNI incidents (CNI001, CNI030-032), in seconds.",
                value=round(mttr * 3600),
            )
            yield GaugeMetricFamily(
                "cniguard_mttr_hours",
                "DEPRECATED: use cniguard_mttr_seconds; removed in the next release. "
                "Mean hours to fix CNI incidents (CNI001, CNI030-032).",
                value=mttr,
            )

    def _finops(self) -> Iterator[GaugeMetricFamily]:
        """Cost of CNI incidents by environment and CNI-permission exposure (store/kpi_cost.py).
        An unknown amount is left out, never exported as 0."""
        cost = GaugeMetricFamily(
            "cniguard_cni_incident_cost",
            "Cost of CNI incidents in the KPI window (NotReady nodes + engineer time); "
            "complete=false: some part had no price, so a lower bound.",
            labels=["environment", "currency", "complete"],
        )
        for env, book in self.kpis["cost_of_cni_incidents"]["by_environment"].items():
            if book["amount"] is not None:
                labels = [env, str(book["currency"]), str(book["complete"]).lower()]
                cost.add_metric(labels, book["amount"])
        yield cost
        exposure = self.kpis["cni_permission_exposure"]
        yield GaugeMetricFamily(
            "cniguard_clusters_exposed_to_cni_permissions",
            "Clusters whose pods can use node-role credentials granting the CNI's ENI actions.",
            value=exposure["clusters_exposed"],
        )
        if exposure["nodes_exposed"] is not None:
            yield GaugeMetricFamily(
                "cniguard_nodes_exposed_to_cni_permissions",
                "Nodes whose pods can use node-role credentials granting the CNI's ENI actions.",
                value=exposure["nodes_exposed"],
            )
        if exposure["pods_exposed"] is not None:
            yield GaugeMetricFamily(
                "cniguard_pods_exposed_to_cni_permissions",
                "Running pods off the host network that can use node-role credentials granting "
                "the CNI's ENI actions.",
                value=exposure["pods_exposed"],
            )

    def _last_scan(self) -> Iterator[GaugeMetricFamily]:
        with Session(self.engine) as session:
            scan = session.scalars(
                select(Scan).order_by(Scan.generated_at.desc(), Scan.id.desc()).limit(1)
            ).first()
        if scan is None:
            return
        yield GaugeMetricFamily(
            "cniguard_last_scan_timestamp_seconds",
            "When the latest stored scan ran (Unix time).",
            value=as_utc(scan.generated_at).timestamp(),
        )
        if scan.duration_seconds is not None:
            yield GaugeMetricFamily(
                "cniguard_last_scan_duration_seconds",
                "How long the latest stored scan took.",
                value=scan.duration_seconds,
            )


def exposition(engine: Engine, kpis: dict[str, Any]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine, kpis))
    return generate_latest(registry)
