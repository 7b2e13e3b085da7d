"""The FastAPI application: server-rendered pages, a read-only JSON API and `/metrics`."""

from __future__ import annotations

import datetime as dt
import json
import threading
from importlib.resources import files
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader
from sqlalchemy import Engine, func, select

from cniguard.model.finding import IDENTITY_MODES, SEVERITIES
from cniguard.store.database import get_engine
from cniguard.store.kpi import compute_kpis
from cniguard.store.queries import (
    ClusterFilter,
    cluster_choices,
    cluster_history,
    cluster_incidents,
    list_clusters,
    list_findings,
    list_scans,
)
from cniguard.store.schema import Scan
from cniguard.store.timespan import parse_duration
from cniguard.web.access import guard
from cniguard.web.charts import Chart, line_chart

DEFAULT_SINCE = "30d"
PAGE_ROWS = 500  # the findings page lists this many; /api/findings has them all


class KpiCache:
    """KPIs only change when a scan is stored: keep them per (latest scan, window)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._cached: dict[tuple[Any, ...], dict[str, Any]] = {}

    def get(self, since: str | None) -> dict[str, Any]:
        """KPIs over the last ``since`` (a duration such as ``30d``), or all history when None."""
        try:
            window = parse_duration(since) if since is not None else None
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        with self.engine.connect() as conn:
            stamp = tuple(conn.execute(select(func.max(Scan.id), func.count(Scan.id))).one())
        now = dt.datetime.now(dt.UTC)
        key = (*stamp, since, now.date(), now.hour)
        with self._lock:
            if key not in self._cached:
                self._cached = {key: compute_kpis(self.engine, window, now)}
            return self._cached[key]


def trend_charts(kpis: dict[str, Any]) -> list[Chart]:
    trend = kpis["trend"]
    days = [t["day"] for t in trend]
    return [
        line_chart("IRSA compliance", days, {
            "all clusters": [t["irsa_compliance_pct"] for t in trend],
            "production": [t["irsa_compliance_pct_production"] for t in trend],
        }, unit="%", y_max=100),
        line_chart("Open high and critical findings", days, {
            "critical": [t["open_findings_by_severity"]["critical"] for t in trend],
            "high": [t["open_findings_by_severity"]["high"] for t in trend],
            "on node roles": [t["node_role_findings_high_critical"] for t in trend],
        }),
        line_chart("Coverage", days, {"read in full": [t["coverage_pct"] for t in trend]},
                   unit="%", y_max=100),
    ]


def create_app(db_url: str, token: str | None = None) -> FastAPI:
    """The app over the store at ``db_url``; with ``token``, every request must present it."""
    engine = get_engine(db_url)
    cache = KpiCache(engine)
    env = Environment(loader=PackageLoader("cniguard.web", "templates"), autoescape=True)
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True)
    app = FastAPI(title="cniguard", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(guard(token))
    app.mount("/static", StaticFiles(directory=str(files("cniguard.web") / "static")), "static")

    def page(name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context))

    def cluster_filter(account: str | None, region: str | None, environment: str | None,
                       mode: str | None) -> ClusterFilter:
        return ClusterFilter(account=account or None, region=region or None,
                             environment=environment or None, mode=mode or None)

    @app.get("/", response_class=HTMLResponse)
    def overview(since: str = DEFAULT_SINCE) -> HTMLResponse:
        kpis = cache.get(since)
        return page("overview.html", kpis=kpis, charts=trend_charts(kpis), since=since,
                    modes=IDENTITY_MODES, severities=SEVERITIES)

    @app.get("/clusters", response_class=HTMLResponse)
    def clusters_page(account: str | None = None, region: str | None = None,
                      environment: str | None = None, mode: str | None = None) -> HTMLResponse:
        flt = cluster_filter(account, region, environment, mode)
        return page("clusters.html", clusters=list_clusters(engine, flt), flt=flt,
                    choices=cluster_choices(engine))

    @app.get("/cluster", response_class=HTMLResponse)
    def cluster_page(arn: str) -> HTMLResponse:
        matches = [c for c in list_clusters(engine) if c["arn"] == arn]
        if not matches:
            raise HTTPException(status_code=404, detail="no such cluster in the store")
        return page("cluster.html", cluster=matches[0],
                    findings=list_findings(engine, cluster=arn, details=True),
                    history=cluster_history(engine, arn), incidents=cluster_incidents(engine, arn))

    @app.get("/findings", response_class=HTMLResponse)
    def findings_page(state: Literal["open", "resolved", "all"] = "open") -> HTMLResponse:
        found = list_findings(engine, state, limit=PAGE_ROWS + 1)
        return page("findings.html", findings=found[:PAGE_ROWS], more=len(found) > PAGE_ROWS,
                    state=state)

    @app.get("/api/kpis")
    def api_kpis(since: str = DEFAULT_SINCE) -> dict[str, Any]:
        return cache.get(since)

    @app.get("/api/clusters")
    def api_clusters(account: str | None = None, region: str | None = None,
                     environment: str | None = None, mode: str | None = None
                     ) -> list[dict[str, Any]]:
        return list_clusters(engine, cluster_filter(account, region, environment, mode))

    @app.get("/api/findings")
    def api_findings(
        state: Literal["open", "resolved", "all"] = "open", cluster: str | None = None
    ) -> list[dict[str, Any]]:
        return list_findings(engine, state, cluster=cluster)

    @app.get("/api/scans")
    def api_scans(limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return list_scans(engine, limit)

    @app.get("/metrics")
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from cniguard.web.metrics import exposition

        return Response(exposition(engine, cache.get(None)),
                        media_type=CONTENT_TYPE_LATEST)

    return app
