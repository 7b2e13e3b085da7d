"""The FastAPI application: server-rendered pages, a read-only JSON API and `/metrics`."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from importlib.resources import files
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
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
    count_clusters,
    count_findings,
    get_cluster,
    list_clusters,
    list_findings,
    list_scans,
)
from cniguard.store.schema import Scan
from cniguard.store.timespan import parse_duration
from cniguard.web.access import guard
from cniguard.web.charts import Chart, line_chart
from cniguard.web.paging import PAGE_SIZE, Pager

DEFAULT_SINCE = "30d"
MAX_LIMIT = 10_000
PageNumber = Query(1, ge=1, alias="page", description="Page of the listing, from 1.")
Limit = Query(None, ge=1, le=MAX_LIMIT, description="At most this many items (default: all).")
Offset = Query(0, ge=0, description="Skip this many items first.")


class KpiCache:
    """KPIs only change when a scan is stored: keep them per window until the next scan (or hour).

    A few windows are kept side by side (the overview's and the all-history one of `/metrics`).
    """

    WINDOWS = 8

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._cached: dict[str | None, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def get(self, since: str | None) -> dict[str, Any]:
        """KPIs over the last ``since`` (a duration such as ``30d``), or all history when None."""
        try:
            window = parse_duration(since) if since is not None else None
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        with self.engine.connect() as conn:
            scans = tuple(conn.execute(select(func.max(Scan.id), func.count(Scan.id))).one())
        now = dt.datetime.now(dt.UTC)
        stamp = (*scans, now.date(), now.hour)
        with self._lock:
            held = self._cached.get(since)
            if held is None or held[0] != stamp:
                if len(self._cached) >= self.WINDOWS:
                    self._cached.clear()
                held = (stamp, compute_kpis(self.engine, window, now))
                self._cached[since] = held
            return held[1]


def trend_charts(kpis: dict[str, Any]) -> list[Chart]:
    trend = kpis["trend"]
    days = [t["day"] for t in trend]
    return [
        line_chart(
            "IRSA compliance",
            days,
            {
                "all clusters": [t["irsa_compliance_pct"] for t in trend],
                "production": [t["irsa_compliance_pct_production"] for t in trend],
            },
            unit="%",
            y_max=100,
        ),
        line_chart(
            "Open high and critical findings",
            days,
            {
                "critical": [t["open_findings_by_severity"]["critical"] for t in trend],
                "high": [t["open_findings_by_severity"]["high"] for t in trend],
                "on node roles": [t["node_role_findings_high_critical"] for t in trend],
            },
        ),
        line_chart(
            "Coverage",
            days,
            {"read in full": [t["coverage_pct"] for t in trend]},
            unit="%",
            y_max=100,
        ),
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

    def listing(
        items: list[dict[str, Any]], limit: int | None, offset: int, total: Callable[[], int]
    ) -> JSONResponse:
        """The items as a JSON array; ``X-Total-Count`` says how many match in all."""
        known = (limit is None or len(items) < limit) and (bool(items) or not offset)
        count = offset + len(items) if known else total()
        return JSONResponse(items, headers={"X-Total-Count": str(count)})

    def cluster_filter(
        account: str | None, region: str | None, environment: str | None, mode: str | None
    ) -> ClusterFilter:
        return ClusterFilter(
            account=account or None,
            region=region or None,
            environment=environment or None,
            mode=mode or None,
        )

    @app.get("/", response_class=HTMLResponse)
    def overview(since: str = DEFAULT_SINCE) -> HTMLResponse:
        kpis = cache.get(since)
        return page(
            "overview.html",
            kpis=kpis,
            charts=trend_charts(kpis),
            since=since,
            modes=IDENTITY_MODES,
            severities=SEVERITIES,
        )

    @app.get("/clusters", response_class=HTMLResponse)
    def clusters_page(
        account: str | None = None,
        region: str | None = None,
        environment: str | None = None,
        mode: str | None = None,
        page_number: int = PageNumber,
    ) -> HTMLResponse:
        flt = cluster_filter(account, region, environment, mode)
        pages = Pager(
            "/clusters",
            (
                ("account", flt.account),
                ("region", flt.region),
                ("environment", flt.environment),
                ("mode", flt.mode),
            ),
            page_number,
            count_clusters(engine, flt),
        )
        return page(
            "clusters.html",
            flt=flt,
            choices=cluster_choices(engine),
            pages=pages,
            clusters=list_clusters(engine, flt, limit=PAGE_SIZE, offset=pages.offset),
        )

    @app.get("/cluster", response_class=HTMLResponse)
    def cluster_page(arn: str) -> HTMLResponse:
        cluster = get_cluster(engine, arn)
        if cluster is None:
            raise HTTPException(status_code=404, detail="no such cluster in the store")
        return page(
            "cluster.html",
            cluster=cluster,
            findings=list_findings(engine, cluster=arn, details=True),
            history=cluster_history(engine, arn),
            incidents=cluster_incidents(engine, arn),
        )

    @app.get("/findings", response_class=HTMLResponse)
    def findings_page(
        state: Literal["open", "resolved", "all"] = "open", page_number: int = PageNumber
    ) -> HTMLResponse:
        pages = Pager("/findings", (("state", state),), page_number, count_findings(engine, state))
        found = list_findings(engine, state, limit=PAGE_SIZE, offset=pages.offset)
        return page("findings.html", findings=found, pages=pages, state=state)

    @app.get("/api/kpis")
    def api_kpis(since: str = DEFAULT_SINCE) -> dict[str, Any]:
        return cache.get(since)

    @app.get("/api/clusters")
    def api_clusters(
        account: str | None = None,
        region: str | None = None,
        environment: str | None = None,
        mode: str | None = None,
        limit: int | None = Limit,
        offset: int = Offset,
    ) -> JSONResponse:
        flt = cluster_filter(account, region, environment, mode)
        items = list_clusters(engine, flt, limit=limit, offset=offset)
        return listing(items, limit, offset, lambda: count_clusters(engine, flt))

    @app.get("/api/findings")
    def api_findings(
        state: Literal["open", "resolved", "all"] = "open",
        cluster: str | None = None,
        limit: int | None = Limit,
        offset: int = Offset,
    ) -> JSONResponse:
        items = list_findings(engine, state, cluster=cluster, limit=limit, offset=offset)
        return listing(items, limit, offset, lambda: count_findings(engine, state, cluster=cluster))

    @app.get("/api/scans")
    def api_scans(limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return list_scans(engine, limit)

    @app.get("/metrics")
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from cniguard.web.metrics import exposition

        return Response(exposition(engine, cache.get(None)), media_type=CONTENT_TYPE_LATEST)

    return app
