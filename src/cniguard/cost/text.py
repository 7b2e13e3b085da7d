"""The FinOps figures as short lines, worded once for the report summary and `cniguard kpi`."""

from __future__ import annotations

from typing import Any


def _money(amount: float | None, currency: str | None) -> str:
    return "unknown" if amount is None else f"{currency or ''} {amount:,.2f}".strip()


def report_facts(kpis: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(label, value) lines for the report's ``kpis.cost`` / ``kpis.exposure`` (if present)."""
    lines: list[tuple[str, str]] = []
    cost = kpis.get("cost")
    if isinstance(cost, dict):
        if not cost["clusters_in_outage"]:
            value = "no cluster in a CNI outage"
        else:
            per_hour = cost["not_ready_nodes_per_hour"]
            unpriced = cost["not_ready_nodes_unpriced"]
            if per_hour is None:
                burn = "unknown per hour (no NotReady node has a price)"
            elif unpriced:
                burn = f"at least {_money(per_hour, cost['currency'])}/h ({unpriced} unpriced)"
            else:
                burn = f"{_money(per_hour, cost['currency'])}/h"
            value = (
                f"{burn} for {cost['not_ready_nodes']} NotReady node(s) on "
                f"{cost['clusters_in_outage']} cluster(s); "
                f"{cost['stranded_pods']} stranded pod(s); engineer time "
                + (
                    f"{_money(cost['engineer_per_hour'], cost['currency'])}/h"
                    if cost["engineer_per_hour"] is not None
                    else "not counted"
                )
                + f"; prices: {', '.join(cost['price_sources']) or 'none'}"
                + (
                    f"; cost unknown for {cost['clusters_cost_failed']} cluster(s) (error)"
                    if cost["clusters_cost_failed"]
                    else ""
                )
            )
        lines.append(("Outage cost", value))
    exposure = kpis.get("exposure")
    if isinstance(exposure, dict):
        lines.append(("Exposed to the CNI's permissions", exposure_text(exposure)))
    return tuple(lines)


def exposure_text(exposure: dict[str, Any]) -> str:
    nodes, pods = exposure["nodes_exposed"], exposure["pods_exposed"]
    text = (
        f"{exposure['clusters_exposed']} cluster(s), "
        f"{'unknown' if nodes is None else nodes} node(s), "
        f"{'unknown' if pods is None else pods} pod(s); "
        f"{len(exposure['actions'])} ENI action(s)"
    )
    unknown = exposure["clusters_exposure_unknown"]
    return text + (f"; {unknown} cluster(s) unknown" if unknown else "")


def kpi_rows(kpis: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows of `cniguard kpi` for ``cost_of_cni_incidents`` and ``cni_permission_exposure``
    (labels no longer than the table's own, so its alignment does not move)."""
    cost = kpis["cost_of_cni_incidents"]
    if not cost["incidents"]:
        return [
            ("Cost of CNI incidents", "no CNI incident in the window"),
            ("Exposed to CNI permissions", exposure_text(kpis["cni_permission_exposure"])),
        ]
    amount = _money(cost["amount"], cost["currency"])
    if cost["amount"] is not None and not cost["complete"]:
        amount = f"at least {amount} ({cost['incidents_unpriced']} part(s) without a price)"
    by_env = ", ".join(
        f"{env} {_money(e['amount'], e['currency'])}" for env, e in cost["by_environment"].items()
    )
    return [
        (
            "Cost of CNI incidents",
            f"{amount} over {cost['incidents']} incident(s)" + (f" ({by_env})" if by_env else ""),
        ),
        (
            "Node-hours / stranded pod-hours",
            f"{cost['not_ready_node_hours']:g} / {cost['stranded_pod_hours']:g}"
            + (f"; prices: {', '.join(cost['price_sources'])}" if cost["price_sources"] else ""),
        ),
        ("Exposed to CNI permissions", exposure_text(kpis["cni_permission_exposure"])),
    ]
