"""History-store benchmark: N clusters x D daily scans, then KPI time and page p95 latency.

    python bench/bench_store.py [--clusters 1000] [--days 30] [--full] [--requests 30] [--pg URL]

``--full`` is issue 5's size: 1,000 clusters x 90 daily scans (a few minutes per database).
SQLite always; PostgreSQL too when --pg or CNIGUARD_TEST_PG_URL names one (e.g. after
`source .ci/postgres.sh && start_postgres`). Target: page p95 < 200 ms. After the pages, one more
scan is stored and the first overview load after it (KPIs not cached yet) is timed.
Everything is local.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cniguard.model.finding import ClusterResult, Finding, IdentityMode, Report, Severity
from cniguard.store import save_report
from cniguard.store.database import get_engine
from cniguard.store.kpi import compute_kpis
from cniguard.web.app import create_app

MODES: tuple[IdentityMode, ...] = ("irsa", "pod_identity", "node_role", "mixed", "unknown")
RULES: tuple[tuple[str, Severity], ...] = (
    ("CNI002", "high"),
    ("CNI001", "critical"),
    ("CNI030", "critical"),
    ("CNI020", "low"),
)
PAGES = (
    "/",
    "/?since=365d",
    "/clusters",
    "/clusters?mode=node_role",
    "/clusters?page=5",
    "/clusters?production=yes&compliant=no",
    "/findings?state=open",
    "/findings?state=all&severity=critical&severity=high",
    "/findings?state=all&sort=last_seen&page=5",
    "/findings?name=c00007&state=all",
    "/incidents",
    "/incidents?mttr=yes&since=30d",
    "/cluster?arn=arn%3Aaws%3Aeks%3Aeu-west-1%3A100000000007%3Acluster%2Fc00007",
    "/api/kpis",
    "/api/clusters",
    "/api/clusters?limit=100&offset=500",
    "/api/findings",
    "/api/findings?state=all&limit=1000",
    "/api/findings?state=all&rule=CNI002&account=100000000007",
    "/api/incidents?state=resolved&offset=900",
    "/api/scans",
    "/metrics",
)


def fleet_report(day: int, clusters: int, start: dt.datetime, rng: random.Random) -> Report:
    """Day ``day``: clusters drift towards IRSA; findings come and go."""
    at = start + dt.timedelta(days=day)
    results, findings = [], []
    for i in range(clusters):
        name = f"c{i:05d}"
        arn = f"arn:aws:eks:eu-west-1:{100000000000 + i % 50}:cluster/{name}"
        mode = MODES[0] if rng.random() < 0.3 + day / 200 else MODES[i % len(MODES)]
        results.append(
            ClusterResult(
                name=name,
                arn=arn,
                account=str(100000000000 + i % 50),
                region="eu-west-1",
                environment="prod" if i % 3 == 0 else "dev",
                production=i % 3 == 0,
                cni_identity=mode,
                compliant={"irsa": True, "pod_identity": True}.get(mode, False),
            )
        )
        for rule_id, severity in RULES:
            if rng.random() < 0.25:
                findings.append(
                    Finding(
                        rule_id=rule_id,
                        severity=severity,
                        status="fail",
                        cluster=arn,
                        account=results[-1].account,
                        region="eu-west-1",
                        resource=f"{arn}/{rule_id}",
                        title=rule_id,
                        message=rule_id,
                        evidence={"stuck_pods": 2},
                        remediation="fix",
                        location=None,
                        fingerprint=f"{arn}|{rule_id}",
                    )
                )
    return Report(
        kind="live",
        generated_at=at.isoformat(),
        tool_version="bench",
        clusters=tuple(results),
        findings=tuple(findings),
        coverage={"gaps": [], "duration_seconds": 60.0},
    )


def run(label: str, url: str, clusters: int, days: int, requests: int) -> None:
    rng = random.Random(7)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=days)
    began = time.perf_counter()
    for day in range(days):
        save_report(url, fleet_report(day, clusters, start, rng))
    write_s = time.perf_counter() - began
    engine = get_engine(url)
    kpi_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        compute_kpis(engine, dt.timedelta(days=days + 1))
        kpi_times.append(time.perf_counter() - t0)
    client = TestClient(create_app(url))
    print(
        f"{label}: {clusters} clusters x {days} scans written in {write_s:.1f} s "
        f"({1000 * write_s / days:.0f} ms/scan); KPI query {1000 * min(kpi_times):.0f} ms "
        f"(best of 3, uncached)"
    )
    for page in PAGES:
        latencies = []
        for _ in range(requests):
            t0 = time.perf_counter()
            response = client.get(page)
            latencies.append(1000 * (time.perf_counter() - t0))
            assert response.status_code == 200, (page, response.status_code)
        p95 = statistics.quantiles(latencies, n=20)[18]
        flag = "ok" if p95 < 200 else "OVER 200 ms"
        print(
            f"  {page[:50]:<50} p50 {statistics.median(latencies):7.1f} ms  "
            f"p95 {p95:7.1f} ms  {flag}"
        )
    t0 = time.perf_counter()
    save_report(url, fleet_report(days, clusters, start, rng))
    t1 = time.perf_counter()
    assert client.get("/").status_code == 200
    print(
        f"  one more scan stored in {1000 * (t1 - t0):.0f} ms; first overview after it "
        f"(KPIs recomputed) {1000 * (time.perf_counter() - t1):.0f} ms"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--full", action="store_true", help="1,000 clusters x 90 daily scans")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--pg", default=os.environ.get("CNIGUARD_TEST_PG_URL"))
    args = parser.parse_args()
    if args.full:
        args.clusters, args.days = 1000, 90
    with tempfile.TemporaryDirectory() as tmp:
        run(
            "sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.clusters, args.days, args.requests
        )
    if args.pg:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in args.pg else "?"
        try:
            run(
                "postgresql",
                f"{args.pg}{sep}options=-csearch_path%3D{schema}",
                args.clusters,
                args.days,
                args.requests,
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    else:
        print("postgresql: skipped (no --pg and no CNIGUARD_TEST_PG_URL)")


if __name__ == "__main__":
    main()
