"""The JSON API, `/metrics`, the security headers and the token, through the ASGI app."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cniguard.model.finding import Report
from cniguard.store import save_report
from cniguard.store.kpi import compute_kpis
from cniguard.web.access import CSP, allowed_hosts_for, host_name, is_loopback
from cniguard.web.app import create_app

from .fleet import DEV, HOSTILE, build_store


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(build_store(tmp_path)))


def test_kpis_contract(client: TestClient) -> None:
    kpis = client.get("/api/kpis", params={"since": "3650d"}).json()
    assert kpis["irsa_compliance_pct"] == 66.7
    assert kpis["irsa_compliance_pct_production"] == 0.0
    assert kpis["clusters_by_identity"]["irsa"] == 2
    assert kpis["prod_clusters_by_identity"]["node_role"] == 1
    assert kpis["open_findings_by_severity"] == {
        "critical": 0,
        "high": 1,
        "medium": 0,
        "low": 0,
        "info": 0,
    }
    assert kpis["mttr_hours"] == {"cni_incidents": 24.0, "resolved_incidents": 1}
    assert kpis["coverage_pct"] == 100.0
    assert [t["day"] for t in kpis["trend"]] == ["2026-03-01", "2026-03-02"]


def test_kpis_are_cached_per_window_until_the_next_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = build_store(tmp_path)
    windows: list[dt.timedelta | None] = []

    def counted(engine: Engine, window: dt.timedelta | None, now: dt.datetime) -> dict[str, Any]:
        windows.append(window)
        return compute_kpis(engine, window, now)

    monkeypatch.setattr("cniguard.web.app.compute_kpis", counted)
    client = TestClient(create_app(url))
    for path in ("/api/kpis", "/metrics", "/", "/metrics", "/api/kpis?since=30d"):
        assert client.get(path).status_code == 200
    assert windows == [dt.timedelta(days=30), None]
    save_report(
        url,
        Report(
            kind="live",
            generated_at="2026-03-03T06:00:00Z",
            tool_version="0.1.0",
            clusters=(DEV,),
            findings=(),
            coverage={"gaps": []},
        ),
    )
    assert client.get("/api/kpis").status_code == 200
    assert windows == [dt.timedelta(days=30), None, dt.timedelta(days=30)]


def test_bad_window_is_422(client: TestClient) -> None:
    assert client.get("/api/kpis", params={"since": "soon"}).status_code == 422


def test_findings_by_state(client: TestClient) -> None:
    resolved = client.get("/api/findings", params={"state": "resolved"}).json()
    assert [
        (f["rule_id"], f["severity"], f["first_seen"], f["last_seen"], f["resolved_at"])
        for f in resolved
    ] == [
        (
            "CNI030",
            "critical",
            "2026-03-01T06:00:00Z",
            "2026-03-01T06:00:00Z",
            "2026-03-02T06:00:00Z",
        )
    ]
    open_ = client.get("/api/findings").json()
    assert [(f["rule_id"], f["cluster"], f["account"], f["region"]) for f in open_] == [
        ("CNI002", "arn:aws:eks:eu-west-1:111122223333:cluster/prod-a", "111122223333", "eu-west-1")
    ]


def test_clusters_filter_and_scans(client: TestClient) -> None:
    found = client.get("/api/clusters", params={"region": "us-east-1"}).json()
    assert [(c["name"], c["cni_identity"], c["basis"]) for c in found] == [
        ("dev-b", "irsa", "pods")]
    page = client.get("/cluster", params={"arn": found[0]["arn"]}).text
    assert '<small id="basis">(judged from pods)</small>' in page
    assert [
        c["name"] for c in client.get("/api/clusters", params={"mode": "node_role"}).json()
    ] == ["prod-a"]
    scans = client.get("/api/scans").json()
    assert [(s["id"], s["generated_at"], s["clusters"], s["duration_seconds"]) for s in scans] == [
        (2, "2026-03-02T06:00:00Z", 3, 4.5),
        (1, "2026-03-01T06:00:00Z", 3, 4.5),
    ]


def test_api_is_read_only(client: TestClient) -> None:
    assert client.post("/api/findings", json={}).status_code == 405
    assert client.delete("/api/scans").status_code == 405


def test_pages_escape_hostile_values_and_send_csp(client: TestClient) -> None:
    for path in (
        "/",
        "/clusters",
        "/findings?state=open",
        "/cluster?arn=arn:aws:eks:eu-west-1:111122223333:cluster/evil-c",
        "/cluster?arn=arn:aws:eks:eu-west-1:111122223333:cluster/prod-a",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert HOSTILE not in response.text
        assert "<script>" not in response.text
    page = client.get("/clusters").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_unknown_cluster_is_404(client: TestClient) -> None:
    assert client.get("/cluster", params={"arn": "nope"}).status_code == 404


def test_metrics(client: TestClient) -> None:
    text = client.get("/metrics").text
    prod = 'cluster="arn:aws:eks:eu-west-1:111122223333:cluster/prod-a"'
    assert 'cniguard_open_findings{rule_id="CNI002",severity="high"} 1.0' in text
    assert f'cniguard_stuck_pods{{account="111122223333",{prod},region="eu-west-1"}} 0.0' in text
    assert (
        'cniguard_clusters{environment="prod",identity_mode="node_role",production="true"} 1.0'
        in text
    )
    assert 'environment="<script>alert(1)</script><img src=x onerror=alert(2)>\\"\'&"' in text
    assert 'cniguard_irsa_compliance_ratio{scope="all"} 0.667' in text
    assert 'cniguard_irsa_compliance_ratio{scope="production"} 0.0' in text
    assert "cniguard_mttr_seconds 86400.0" in text
    assert "cniguard_mttr_hours 24.0" in text
    assert "# HELP cniguard_mttr_hours DEPRECATED: use cniguard_mttr_seconds;" in text
    assert "cniguard_coverage_ratio 1.0" in text
    assert "cniguard_last_scan_timestamp_seconds 1.7724312e+09" in text
    assert "cniguard_last_scan_duration_seconds 4.5" in text


def test_token_guards_everything(tmp_path: Path) -> None:
    client = TestClient(create_app(build_store(tmp_path), token="s3cret"))
    assert client.get("/api/kpis").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    page = client.get("/clusters", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login")
    form = client.get("/login")
    assert (form.status_code, 'method="post" action="/login"' in form.text) == (200, True)
    assert client.post("/login", data={"token": "nope"}).status_code == 401
    login = client.post("/login", data={"token": "s3cret"}, follow_redirects=False)
    assert (login.status_code, login.headers["location"]) == (303, "/")
    assert "HttpOnly" in login.headers["set-cookie"]
    assert "Secure" not in login.headers["set-cookie"]
    assert client.get("/clusters").status_code == 200  # the cookie now rides along


def test_token_is_never_read_from_an_address(tmp_path: Path) -> None:
    client = TestClient(create_app(build_store(tmp_path), token="s3cret"))
    refused = client.get("/login", params={"token": "s3cret"}, follow_redirects=False)
    assert (refused.status_code, "set-cookie" in refused.headers) == (400, False)
    assert client.get("/api/kpis", params={"token": "s3cret"}).status_code == 401


@pytest.mark.parametrize(
    ("behind_tls", "headers", "secure"),
    [
        (True, {}, True),
        (False, {"X-Forwarded-Proto": "https"}, True),
        (False, {"X-Forwarded-Proto": "http"}, False),
    ],
)
def test_cookie_is_secure_behind_tls(
    tmp_path: Path, behind_tls: bool, headers: dict[str, str], secure: bool
) -> None:
    client = TestClient(create_app(build_store(tmp_path), token="s3cret", behind_tls=behind_tls))
    login = client.post("/login", data={"token": "s3cret"}, headers=headers, follow_redirects=False)
    assert ("; Secure" in login.headers["set-cookie"]) is secure


def test_host_header_must_name_the_bound_address(tmp_path: Path) -> None:
    app = create_app(build_store(tmp_path), allowed_hosts=allowed_hosts_for("127.0.0.1"))
    client = TestClient(app, base_url="http://127.0.0.1:8000")
    assert client.get("/api/kpis").status_code == 200
    for host in ("localhost:8000", "[::1]:8000", "127.0.0.1"):
        assert client.get("/api/scans", headers={"Host": host}).status_code == 200, host
    rebound = client.get("/api/kpis", headers={"Host": "attacker.example:8000"})
    assert (rebound.status_code, rebound.text) == (
        421,
        "this server answers only to the address it is bound to",
    )
    assert allowed_hosts_for("0.0.0.0") == ("0.0.0.0",)  # noqa: S104


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:80", "::1"),
        ("LocalHost", "localhost"),
        ("::1", "::1"),
        ("", ""),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),  # noqa: S104
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
