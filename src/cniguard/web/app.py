"""The FastAPI application: server-rendered pages, a read-only JSON API and `/metrics`."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader
from sqlalchemy import Engine, func, select

from cniguard.model.finding import IDENTITY_MODES, SEVERITIES
from cniguard.store.database import get_engine
from cniguard.store.finding_search import (
    FINDING_SORTS,
    LISTED_STATES,
    FindingFilter,
    IncidentFilter,
    count_findings_matching,
    count_incidents_matching,
    search_findings,
    search_incidents,
)
from cniguard.store.kpi import MTTR_RULES, NODE_ROLE_RULE, NODE_ROLE_SEVERITIES, compute_kpis
from cniguard.store.queries import (
    ClusterFilter,
    cluster_choices,
    cluster_history,
    cluster_incidents,
    count_clusters,
    freshness,
    get_cluster,
    list_clusters,
    list_scans,
)
from cniguard.store.schema import Scan
from cniguard.web.access import guard
from cniguard.web.charts import Chart, line_chart
from cniguard.web.errors import install_error_pages
from cniguard.web.paging import PAGE_SIZE, Pager
from cniguard.web.params import (
    MAX_OFFSET,
    MAX_PAGE,
    finding_filter,
    incident_filter,
    kept,
    reject_unknown_params,
    window,
    yes_no,
)

DEFAULT_SINCE = "30d"
WINDOWS = ("7d", "30d", "90d", "365d")
MAX_LIMIT = 10_000
API_PAGE = 100  # findings and incidents per API page unless ``limit`` says otherwise
MAX_API_PAGE = 1000
STALE_AFTER = dt.timedelta(days=2)
CLUSTER_FINDINGS = 1000  # a cluster page lists at most this many, worst first
PageNumber = Query(1, ge=1, le=MAX_PAGE, alias="page", description="Page of the listing, from 1.")
Limit = Query(None, ge=1, le=MAX_LIMIT, description="At most this many items (default: all).")
PagedLimit = Query(API_PAGE, ge=1, le=MAX_API_PAGE, description="Items per page.")
Offset = Query(0, ge=0, le=MAX_OFFSET, description="Skip this many items first.")
Many = Annotated[list[str] | None, Query()]  # a parameter that may repeat


def _findings(
    state: Many = None,
    severity: Many = None,
    rule: Many = None,
    account: str | None = None,
    region: str | None = None,
    environment: str | None = None,
    production: str | None = None,
    cluster: str | None = None,
    name: str | None = None,
    sort: str | None = None,
) -> FindingFilter:
    """The query parameters of /findings and /api/findings, declared once."""
    return finding_filter(
        state=state,
        severity=severity,
        rule=rule,
        account=account,
        region=region,
        environment=environment,
        production=production,
        cluster=cluster,
        name=name,
        sort=sort,
    )


def _incidents(
    state: str | None = None,
    severity: Many = None,
    rule: Many = None,
    cluster: str | None = None,
    since: str | None = None,
    mttr: str | None = None,
) -> IncidentFilter:
    """The query parameters of /incidents and /api/incidents, declared once."""
    return incident_filter(
        state=state,
        severity=severity,
        rule=rule,
        cluster=cluster,
        since=since,
        mttr=mttr,
        now=dt.datetime.now(dt.UTC),
    )


Findings = Annotated[FindingFilter, Depends(_findings)]
Incidents = Annotated[IncidentFilter, Depends(_incidents)]


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
        span = window(since) if since is not None else None
        with self.engine.connect() as conn:
            scans = tuple(conn.execute(select(func.max(Scan.id), func.count(Scan.id))).one())
        now = dt.datetime.now(dt.UTC)
        stamp = (*scans, now.date(), now.hour)
        with self._lock:
            held = self._cached.get(since)
            if held is None or held[0] != stamp:
                if len(self._cached) >= self.WINDOWS:
                    self._cached.clear()
                held = (stamp, compute_kpis(self.engine, span, now))
                self._cached[since] = held
            return held[1]


def trend_charts(kpis: dict[str, Any]) -> list[Chart]:
    """The overview's charts over the KPI window, on a calendar axis from its first day."""
    trend = kpis["trend"]
    days = [t["day"] for t in trend]
    since, until = kpis["window"]["since"], kpis["window"]["until"]
    axis: dict[str, Any] = {
        "first": since[:10] if since else None,
        "last": until[:10] if trend else None,
    }
    modes = [m for m in IDENTITY_MODES if any(t["clusters_by_identity"][m] for t in trend)]
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
            **axis,
        ),
        line_chart(
            "Open high and critical findings",
            days,
            {
                "critical": [t["open_findings_by_severity"]["critical"] for t in trend],
                "high": [t["open_findings_by_severity"]["high"] for t in trend],
                "on node roles": [t["node_role_findings_high_critical"] for t in trend],
            },
            **axis,
        ),
        line_chart(
            "CNI identity mode mix (clusters)",
            days,
            {m: [t["clusters_by_identity"][m] for t in trend] for m in modes},
            **axis,
        ),
        line_chart(
            "MTTR of CNI incidents fixed that day",
            days,
            {"hours": [t["mttr_hours"]["cni_incidents"] for t in trend]},
            unit=" h",
            **axis,
        ),
        line_chart(
            "Coverage",
            days,
            {"read in full": [t["coverage_pct"] for t in trend]},
            unit="%",
            y_max=100,
            **axis,
        ),
    ]


def create_app(
    db_url: str,
    token: str | None = None,
    *,
    allowed_hosts: tuple[str, ...] | None = None,
    behind_tls: bool = False,
    stale_after: dt.timedelta = STALE_AFTER,
) -> FastAPI:
    """The app over the store at ``db_url``; with ``token``, every request must present it.

    ``allowed_hosts``: the Host header values accepted (DNS rebinding); None accepts any.
    ``behind_tls``: a TLS proxy fronts the server, so the login cookie is ``Secure``.
    """
    engine = get_engine(db_url)
    cache = KpiCache(engine)
    env = Environment(loader=PackageLoader("cniguard.web", "templates"), autoescape=True)
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True)
    env.filters["duration"] = human_duration
    app = FastAPI(
        title="cniguard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(reject_unknown_params)],
    )
    app.middleware("http")(guard(token, allowed_hosts=allowed_hosts, behind_tls=behind_tls))
    app.mount("/static", StaticFiles(directory=str(files("cniguard.web") / "static")), "static")

    def render(name: str, **context: Any) -> str:
        return env.get_template(name).render(**context)

    install_error_pages(app, render)

    def page(name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(render(name, **context))

    def listing(
        items: list[dict[str, Any]], limit: int | None, offset: int, total: Callable[[], int]
    ) -> JSONResponse:
        """The items as a JSON array; ``X-Total-Count`` says how many match in all."""
        known = (limit is None or len(items) < limit) and (bool(items) or not offset)
        count = offset + len(items) if known else total()
        return JSONResponse(items, headers={"X-Total-Count": str(count)})

    def paged(
        request: Request, items: list[dict[str, Any]], limit: int, offset: int, total: int
    ) -> JSONResponse:
        """One API page: ``X-Total-Count``, and a ``Link`` header to the next page if any."""
        headers = {"X-Total-Count": str(total)}
        if offset + len(items) < total and offset + limit <= MAX_OFFSET:
            query = [*kept(request, "offset", "limit"), ("limit", str(limit))]
            query.append(("offset", str(offset + limit)))
            headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
        return JSONResponse(items, headers=headers)

    def cluster_filter(
        account: str | None,
        region: str | None,
        environment: str | None,
        mode: str | None,
        production: str | None = None,
        complete: str | None = None,
        compliant: str | None = None,
    ) -> ClusterFilter:
        return ClusterFilter(
            account=account or None,
            region=region or None,
            environment=environment or None,
            mode=mode or None,
            production=yes_no("production", production),
            complete=yes_no("complete", complete),
            compliant=yes_no("compliant", compliant),
        )

    @app.get("/", response_class=HTMLResponse)
    def overview(since: str = DEFAULT_SINCE) -> HTMLResponse:
        kpis = cache.get(since)
        now = dt.datetime.now(dt.UTC)
        return page(
            "overview.html",
            kpis=kpis,
            charts=trend_charts(kpis),
            since=since,
            windows=WINDOWS if since in WINDOWS else (*WINDOWS, since),
            modes=IDENTITY_MODES,
            severities=SEVERITIES,
            node_role=(NODE_ROLE_RULE, NODE_ROLE_SEVERITIES),
            freshness=[
                {**f, "stale": now - f["oldest_scan"] > stale_after} for f in freshness(engine)
            ],
            stale_after=stale_after,
        )

    @app.get("/clusters", response_class=HTMLResponse)
    def clusters_page(
        request: Request,
        account: str | None = None,
        region: str | None = None,
        environment: str | None = None,
        mode: str | None = None,
        production: str | None = None,
        complete: str | None = None,
        compliant: str | None = None,
        page_number: int = PageNumber,
    ) -> HTMLResponse:
        flt = cluster_filter(account, region, environment, mode, production, complete, compliant)
        pages = Pager(
            "/clusters", tuple(kept(request, "page")), page_number, count_clusters(engine, flt)
        )
        return page(
            "clusters.html",
            flt=flt,
            raw={
                "production": production or "",
                "complete": complete or "",
                "compliant": compliant or "",
            },
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
            findings=search_findings(
                engine,
                FindingFilter(states=LISTED_STATES, cluster=arn, sort="state"),
                limit=CLUSTER_FINDINGS,
                details=True,
            ),
            history=cluster_history(engine, arn),
            incidents=cluster_incidents(engine, arn),
        )

    @app.get("/findings", response_class=HTMLResponse)
    def findings_page(
        request: Request,
        flt: Findings,
        page_number: int = PageNumber,
    ) -> HTMLResponse:
        pages = Pager(
            "/findings",
            tuple(kept(request, "page")),
            page_number,
            count_findings_matching(engine, flt),
        )
        return page(
            "findings.html",
            findings=search_findings(engine, flt, limit=PAGE_SIZE, offset=pages.offset),
            pages=pages,
            flt=flt,
            raw={"production": request.query_params.get("production", "")},
            choices=cluster_choices(engine),
            states=LISTED_STATES,
            severities=SEVERITIES,
            sorts=FINDING_SORTS,
        )

    @app.get("/incidents", response_class=HTMLResponse)
    def incidents_page(
        request: Request,
        flt: Incidents,
        page_number: int = PageNumber,
    ) -> HTMLResponse:
        pages = Pager(
            "/incidents",
            tuple(kept(request, "page")),
            page_number,
            count_incidents_matching(engine, flt),
        )
        return page(
            "incidents.html",
            incidents=search_incidents(engine, flt, limit=PAGE_SIZE, offset=pages.offset),
            pages=pages,
            flt=flt,
            since=request.query_params.get("since", ""),
            mttr_rules=MTTR_RULES,
            severities=SEVERITIES,
        )

    @app.get("/api/kpis")
    def api_kpis(since: str = DEFAULT_SINCE) -> dict[str, Any]:
        return cache.get(since)

    @app.get("/api/clusters")
    def api_clusters(
        account: str | None = None,
        region: str | None = None,
        environment: str | None = None,
        mode: str | None = None,
        production: str | None = None,
        complete: str | None = None,
        compliant: str | None = None,
        limit: int | None = Limit,
        offset: int = Offset,
    ) -> JSONResponse:
        flt = cluster_filter(account, region, environment, mode, production, complete, compliant)
        items = list_clusters(engine, flt, limit=limit, offset=offset)
        return listing(items, limit, offset, lambda: count_clusters(engine, flt))

    @app.get("/api/findings")
    def api_findings(
        request: Request,
        flt: Findings,
        limit: int = PagedLimit,
        offset: int = Offset,
    ) -> JSONResponse:
        items = search_findings(engine, flt, limit=limit, offset=offset)
        return paged(request, items, limit, offset, count_findings_matching(engine, flt))

    @app.get("/api/incidents")
    def api_incidents(
        request: Request,
        flt: Incidents,
        limit: int = PagedLimit,
        offset: int = Offset,
    ) -> JSONResponse:
        items = search_incidents(engine, flt, limit=limit, offset=offset)
        return paged(request, items, limit, offset, count_incidents_matching(engine, flt))

    @app.get("/api/scans")
    def api_scans(limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return list_scans(engine, limit)

    @app.get("/metrics")
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from cniguard.web.metrics import exposition

        return Response(exposition(engine, cache.get(None)), media_type=CONTENT_TYPE_LATEST)

    return app


def human_duration(seconds: float | None) -> str:
    """``3h 20m`` / ``2d 4h`` / ``45s``: a time to resolve as an operator reads it."""
    if seconds is None:
        return ""
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"
