"""`cniguard kpi`, `cniguard serve` and `cniguard watch`: the history store's commands."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cniguard.cli.common import (
    ConfigOpt,
    Sev,
    fail,
    load_config_opt,
    open_read_store_opt,
    open_store_opt,
    store_report_opt,
)
from cniguard.cli.scan import with_live_options
from cniguard.collect.options import LiveOptions
from cniguard.model.finding import Report

StoreDbOpt = Annotated[
    str,
    typer.Option(
        "--db",
        help="SQLAlchemy URL of the store, or 'default' (SQLite in the user data directory).",
    ),
]


class KpiFmt(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi)
    app.command("serve")(serve)
    app.command("watch")(watch)


def _duration(text: str, option: str) -> float:
    from cniguard.store.timespan import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None


def kpi_table(kpis: dict[str, Any]) -> str:
    """The KPIs as aligned text: one line per figure, then the daily trend."""

    def pct(value: float | None) -> str:
        return "unknown" if value is None else f"{value:g}%"

    def counts(mapping: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in mapping.items() if v) or "none"

    mttr = kpis["mttr_hours"]
    rows = [
        ("Window", f"{kpis['window']['since'] or 'all history'} .. {kpis['window']['until']}"),
        ("Clusters", str(kpis["clusters"])),
        ("IRSA compliance (all)", pct(kpis["irsa_compliance_pct"])),
        ("IRSA compliance (production)", pct(kpis["irsa_compliance_pct_production"])),
        ("Clusters by CNI identity", counts(kpis["clusters_by_identity"])),
        ("Production clusters by identity", counts(kpis["prod_clusters_by_identity"])),
        ("Open findings by severity", counts(kpis["open_findings_by_severity"])),
        ("Open high/critical on node roles", str(kpis["node_role_findings_high_critical"])),
        (
            "MTTR of CNI incidents",
            "no incident resolved"
            if mttr["cni_incidents"] is None
            else f"{mttr['cni_incidents']} h over {mttr['resolved_incidents']} incident(s)",
        ),
        ("Coverage", pct(kpis["coverage_pct"])),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    if kpis["trend"]:
        lines += ["", "day         compliance  prod     open crit/high  node-role  coverage"]
        for t in kpis["trend"]:
            sev = t["open_findings_by_severity"]
            lines.append(
                f"{t['day']}  {pct(t['irsa_compliance_pct']):<10}  "
                f"{pct(t['irsa_compliance_pct_production']):<7}  "
                f"{sev['critical']:>4}/{sev['high']:<9}  "
                f"{t['node_role_findings_high_critical']:<9}  "
                f"{pct(t['coverage_pct'])}"
            )
    return "\n".join(lines) + "\n"


def kpi(
    db: StoreDbOpt = "default",
    since: Annotated[str, typer.Option("--since", help="Window, e.g. 7d, 30d, 12h.")] = "30d",
    fmt: Annotated[KpiFmt, typer.Option("--format", "-f", help="Output format.")] = KpiFmt.table,
) -> None:
    """KPIs over the stored history: compliance, identity modes, open findings, MTTR, coverage."""
    import datetime as dt

    from cniguard.store.database import display_url, resolve_url
    from cniguard.store.kpi import compute_kpis

    window = dt.timedelta(seconds=_duration(since, "--since"))
    engine, scans = open_read_store_opt(db)
    if scans == 0 and fmt is KpiFmt.table:
        return
    kpis = compute_kpis(engine, window)
    if fmt is KpiFmt.json:
        typer.echo(json.dumps(kpis, indent=2))
    else:
        typer.echo(f"Store: {display_url(resolve_url(db))}\n" + kpi_table(kpis), nl=False)


def serve(
    db: StoreDbOpt = "default",
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CNIGUARD_TOKEN",
            help="Require this token (bearer header, or the cookie /login?token= sets). "
            "Mandatory for a non-loopback --host.",
        ),
    ] = None,
) -> None:
    """Dashboard, JSON API (/api/...) and Prometheus /metrics over the store (read-only)."""
    import uvicorn

    from cniguard.web.access import is_loopback
    from cniguard.web.app import create_app

    if not is_loopback(host) and not token:
        raise fail(f"--host {host} is reachable from other machines: give --token as well")
    open_store_opt(db)
    uvicorn.run(create_app(db, token=token), host=host, port=port, log_level="info")


def scan_report(
    inventory: Path | None, demo: bool, config: Path | None, live: LiveOptions
) -> Report:
    """One evaluation, exactly as `scan` (live or --inventory) or `demo` makes it."""
    from cniguard.cli.scan import load_inventory_opt, run_collection
    from cniguard.engine import evaluate

    if demo:
        from cniguard.demo import build_fleet, demo_config

        cfg = load_config_opt(config) if config else demo_config()
        return evaluate(build_fleet(), cfg)
    cfg = load_config_opt(config)
    inv = load_inventory_opt(inventory) if inventory is not None else run_collection(live)
    return evaluate(inv, cfg)


@with_live_options
def watch(
    *,
    live: LiveOptions,
    db: StoreDbOpt = "default",
    every: Annotated[str, typer.Option("--every", help="Time between scans, e.g. 15m.")] = "15m",
    alert_on: Annotated[
        Sev, typer.Option("--alert-on", help="Alert on new/re-opened findings at or above this.")
    ] = Sev.high,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST alerts here (Slack-compatible JSON).")
    ] = None,
    inventory: Annotated[
        Path | None, typer.Option("--inventory", "-i", help="Scan this saved inventory.")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Scan the built-in demo fleet.")] = False,
    config: ConfigOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Scan once and exit.")] = False,
    iterations: Annotated[
        int | None, typer.Option("--iterations", min=1, help="Stop after N scans.")
    ] = None,
) -> None:
    """Scan on a schedule into the store; alert on new or re-opened findings."""
    from cniguard.alerting import deliver

    interval = _duration(every, "--every")
    engine = open_store_opt(db)
    remaining = 1 if once else iterations
    while True:
        started = time.monotonic()
        report = scan_report(inventory, demo, config, live)
        scan_id = store_report_opt(db, report)
        sent = deliver(engine, webhook, alert_on.value) if webhook else 0
        typer.echo(
            f"cniguard watch: stored scan {scan_id} ({len(report.clusters)} clusters, "
            f"{len(report.failing())} failing findings); {sent} alert(s) sent",
            err=True,
        )
        if remaining is not None:
            remaining -= 1
            if remaining == 0:
                return
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
