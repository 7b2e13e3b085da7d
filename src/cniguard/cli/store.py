"""`cniguard kpi`, `cniguard serve` and `cniguard watch`: the history store's commands."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from cniguard.cli.common import (
    fail,
    open_read_store_opt,
)
from cniguard.cli.watch import watch

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


def _run_rows(run: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The newest sharded run (``--run-id``): complete, or which shards and accounts it lacks."""
    if not run:
        return []
    stored = f"{len(run['shards_stored'])}/{run['shards']} shard(s) stored"
    if run["complete"]:
        return [("Latest run", f"{run['run_id']}: complete, {stored}")]
    missing = ", ".join(str(i) for i in run["shards_missing"]) or "none"
    unread = sorted({str(item["account"]) for item in run["not_read"]})
    accounts = ", ".join(unread[:5]) + (f" and {len(unread) - 5} more" if len(unread) > 5 else "")
    detail = f"INCOMPLETE, {stored} (missing: {missing})"
    if unread:
        detail += f"; not read: {accounts}"
    if not run["accounts_known"]:
        detail += "; the run's account list is unknown"
    return [("Latest run", f"{run['run_id']}: {detail}")]


def kpi_table(kpis: dict[str, Any]) -> str:
    """The KPIs as aligned text: one line per figure, then the daily trend."""
    from cniguard.cost.text import kpi_rows

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
        *_run_rows(kpis.get("latest_run")),
        *kpi_rows(kpis),  # FinOps: cniguard/cost/text.py
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
            help="Require this token (Authorization: Bearer header, or the cookie the /login "
            "form sets; never in a URL). Mandatory for a non-loopback --host.",
        ),
    ] = None,
    behind_tls: Annotated[
        bool,
        typer.Option("--behind-tls", help="A TLS reverse proxy fronts this server: Secure cookie."),
    ] = False,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections", min=1, max=10_000, help="Open sockets at most (idle ones go)."
        ),
    ] = 200,
    header_timeout: Annotated[
        float,
        typer.Option(
            "--header-timeout", min=0.1, max=300, help="Seconds a client has to send a request."
        ),
    ] = 10.0,
) -> None:
    """Dashboard, JSON API (/api/...) and Prometheus /metrics over the store (read-only).

    Example: cniguard serve --db default --port 8080
    """
    import uvicorn

    from cniguard.web.access import allowed_hosts_for, is_loopback
    from cniguard.web.app import create_app
    from cniguard.web.serving import Limits, bounded_config

    if not is_loopback(host) and not token:
        raise fail(f"--host {host} is reachable from other machines: give --token as well")
    open_read_store_opt(db)  # names the database; a mistyped SQLite path is an error
    app = create_app(
        db,
        token=token,
        allowed_hosts=None if token else allowed_hosts_for(host),
        behind_tls=behind_tls,
    )
    limits = Limits(max_connections=max_connections, header_timeout=header_timeout)
    uvicorn.Server(bounded_config(app, host, port, limits)).run()

