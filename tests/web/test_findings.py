"""Findings and incidents listings: every state visible, filters, sort, pages, bounded input."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cniguard.model.finding import AppliedSuppression, Report
from cniguard.store import save_report
from cniguard.web.app import create_app

from .fleet import DEV, build_states_store, build_wide_store, finding

PROD_ARN = "arn:aws:eks:eu-west-1:111122223333:cluster/prod-a"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return TestClient(create_app(build_states_store(tmp_path_factory.mktemp("states"))))


def _rows(client: TestClient, **params: str | list[str]) -> list[tuple[str, str, str]]:
    response = client.get("/api/findings", params=params)
    assert response.status_code == 200, response.text
    return [(f["rule_id"], f["state"], f["cluster_name"]) for f in response.json()]


def test_every_state_is_listed_and_severity_sorts_first(client: TestClient) -> None:
    assert _rows(client, state="all") == [
        ("CNI001", "open", "dev-b"),
        ("CNI030", "resolved", "prod-a"),
        ("CNI002", "open", "prod-a"),
        ("CNI015", "resolved", "dev-b"),
        ("CNI016", "unknown", "dev-b"),
        ("CNI020", "suppressed", "dev-b"),
    ]


def test_open_is_the_default_and_states_combine(client: TestClient) -> None:
    assert _rows(client) == [("CNI001", "open", "dev-b"), ("CNI002", "open", "prod-a")]
    assert _rows(client, state=["unknown", "suppressed"]) == [
        ("CNI016", "unknown", "dev-b"),
        ("CNI020", "suppressed", "dev-b"),
    ]


def test_an_unknown_no_newer_complete_scan_reports_is_not_current(client: TestClient) -> None:
    found = client.get("/api/findings", params={"state": "resolved", "rule": "CNI015"}).json()
    assert [(f["status"], f["state"], f["last_seen"], f["resolved_at"]) for f in found] == [
        ("unknown", "resolved", "2026-03-01T06:00:00Z", "2026-03-03T06:00:00Z")
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"severity": "critical", "state": "all"}, ["CNI001", "CNI030"]),
        ({"severity": ["high", "low"], "state": "all"}, ["CNI002", "CNI016", "CNI020"]),
        ({"rule": "CNI002"}, ["CNI002"]),
        ({"rule": "cni001, CNI002"}, ["CNI001", "CNI002"]),
        ({"account": "111122223333"}, ["CNI001", "CNI002"]),
        ({"account": "999999999999"}, []),
        ({"region": "us-east-1", "state": "all"}, ["CNI001", "CNI015", "CNI016", "CNI020"]),
        ({"environment": "prod", "state": "all"}, ["CNI030", "CNI002"]),
        ({"production": "yes"}, ["CNI002"]),
        ({"production": "no"}, ["CNI001"]),
        ({"name": "dev-b", "state": "suppressed"}, ["CNI020"]),
        ({"cluster": PROD_ARN, "state": "all"}, ["CNI030", "CNI002"]),
        (
            {"state": "all", "sort": "rule"},
            ["CNI001", "CNI002", "CNI015", "CNI016", "CNI020", "CNI030"],
        ),
        (
            {"state": "all", "sort": "last_seen"},
            ["CNI001", "CNI002", "CNI016", "CNI020", "CNI030", "CNI015"],
        ),
    ],
)
def test_filters_and_sort(
    client: TestClient, params: dict[str, str | list[str]], expected: list[str]
) -> None:
    assert [rule for rule, _, _ in _rows(client, **params)] == expected


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/findings", {"sevrity": "high"}),
        ("/api/findings", {"state": "closed"}),
        ("/api/findings", {"severity": "urgent"}),
        ("/api/findings", {"rule": "CNI002; drop"}),
        ("/api/findings", {"production": "maybe"}),
        ("/api/findings", {"sort": "random"}),
        ("/api/findings", {"limit": "100000"}),
        ("/api/findings", {"offset": "99999999999999999999"}),
        ("/api/findings", {"offset": "1000001"}),
        ("/api/findings", {"name": "x" * 600}),
        ("/api/findings", {"severity": ["high"] * 21}),
        ("/api/clusters", {"offset": "99999999999999999999"}),
        ("/api/clusters", {"production": "sometimes"}),
        ("/api/clusters", {"enviroment": "prod"}),
        ("/api/kpis", {"since": "99999999d"}),
        ("/api/kpis", {"since": "9" * 5000 + "d"}),
        ("/api/kpis", {"since": "36501d"}),
        ("/api/kpis", {"window": "30d"}),
        ("/api/incidents", {"since": "99999999w"}),
        ("/api/incidents", {"mttr": "perhaps"}),
        ("/api/scans", {"limit": "5", "page": "2"}),
        ("/metrics", {"format": "json"}),
    ],
)
def test_unknown_or_absurd_parameters_are_422_in_json(
    client: TestClient, path: str, params: dict[str, str | list[str]]
) -> None:
    response = client.get(path, params=params)
    assert (response.status_code, response.headers["content-type"]) == (422, "application/json")
    assert "detail" in response.json()


def test_unknown_parameter_names_itself(client: TestClient) -> None:
    detail = client.get("/api/findings", params={"sevrity": "high"}).json()["detail"]
    assert [(d["loc"], d["input"]) for d in detail] == [(["query", "sevrity"], "high")]
    assert detail[0]["msg"] == (
        "unknown query parameter; known: account, cluster, environment, limit, name, offset, "
        "production, region, rule, severity, sort, state"
    )


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/findings?sevrity=high", 422, "sevrity: unknown query parameter"),
        ("/findings?state=closed", 422, "state: &#39;closed&#39; is not one of open, suppressed"),
        ("/?since=99999999d", 422, "since: &#39;99999999d&#39; is longer than 36500 days"),
        ("/clusters?page=0", 422, "page: Input should be greater than or equal to 1"),
        ("/clusters?page=10001", 422, "page: Input should be less than or equal to 10000"),
        ("/incidents?since=soon", 422, "since: &#39;soon&#39; is not a duration"),
        ("/cluster?arn=nope", 404, "no such cluster in the store"),
        ("/nowhere", 404, "Not Found"),
    ],
)
def test_html_routes_answer_html_error_pages(
    client: TestClient, path: str, status: int, says: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert says in response.text
    assert '<a href="/">Back to the overview</a>' in response.text
    assert "Traceback" not in response.text


def test_api_pages_by_default_with_a_next_link(tmp_path: Path) -> None:
    wide = TestClient(create_app(build_wide_store(tmp_path, 450)))
    first = wide.get("/api/findings", params={"rule": "CNI002"})
    assert (len(first.json()), first.headers["x-total-count"]) == (100, "150")
    assert first.headers["link"] == ('</api/findings?rule=CNI002&limit=100&offset=100>; rel="next"')
    assert [f["cluster_name"] for f in first.json()[:2]] == ["c000", "c003"]
    last = wide.get("/api/findings", params={"rule": "CNI002", "limit": 100, "offset": 100})
    assert [f["cluster_name"] for f in last.json()][-1] == "c447"
    assert (len(last.json()), "link" in last.headers) == (50, False)
    assert wide.get("/api/findings", params={"limit": 1000}).headers.get("link") is None


def testfindings_page_shows_states_and_keeps_filters(tmp_path: Path) -> None:
    client = TestClient(create_app(build_states_store(tmp_path)))
    page = client.get("/findings", params={"state": "all", "severity": ["low", "medium"]}).text
    assert re.findall(r'<tr class="finding-row (\w+)">', page) == [
        "resolved",
        "unknown",
        "suppressed",
    ]
    assert '<td class="state unknown">unknown</td>' in page
    assert 'id="severity-low" checked' in page
    assert 'id="severity-high">' in page
    empty_choice = client.get("/findings", params={"severity": "", "production": "", "rule": ""})
    assert empty_choice.status_code == 200
    assert re.findall(r'<tr class="finding-row (\w+)">', empty_choice.text) == ["open", "open"]
    wide = TestClient(create_app(build_wide_store(tmp_path, 450)))
    paged = wide.get("/findings", params={"state": "open", "sort": "cluster"}).text
    assert 'href="/findings?state=open&amp;sort=cluster&amp;page=2" rel="next"' in paged


def test_incidents_with_time_to_resolve(client: TestClient) -> None:
    everything = client.get("/api/incidents").json()
    assert [
        (i["rule_id"], i["cluster_name"], i["resolution"], i["seconds_to_resolve"])
        for i in everything
    ] == [
        ("CNI001", "dev-b", None, None),
        ("CNI030", "prod-a", "fixed", 172800.0),
        ("CNI002", "prod-a", None, None),
    ]
    assert [
        i["rule_id"] for i in client.get("/api/incidents", params={"state": "open"}).json()
    ] == ["CNI001", "CNI002"]
    page = client.get("/incidents", params={"state": "resolved"}).text
    assert '<td class="ttr">2d 0h</td>' in page
    assert page.count('<td class="ttr">') == 1


def test_suppression_reason_and_expiry_are_shown_and_an_expired_one_flagged(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'waivers.db'}"
    waived = replace(
        finding("CNI020", DEV, "low", {}),
        suppression=AppliedSuppression(reason="accepted <risk>", expires="2099-01-01"),
    )
    lapsed = replace(
        finding("CNI021", DEV, "medium", {}),
        suppression=AppliedSuppression(
            reason="until the migration", expires="2026-02-01", expired=True
        ),
    )
    save_report(
        url,
        Report(
            kind="live",
            generated_at="2026-03-01T06:00:00Z",
            tool_version="0.1.0",
            clusters=(DEV,),
            findings=(waived, lapsed),
            coverage={"gaps": []},
        ),
    )
    client = TestClient(create_app(url))
    found = client.get("/api/findings", params={"state": "all"}).json()
    assert [(f["rule_id"], f["state"], f["suppression"]) for f in found] == [
        (
            "CNI021",
            "open",
            {"reason": "until the migration", "expires": "2026-02-01", "expired": True},
        ),
        (
            "CNI020",
            "suppressed",
            {"reason": "accepted <risk>", "expires": "2099-01-01", "expired": False},
        ),
    ]
    page = client.get("/findings", params={"state": "all"}).text
    assert (
        '<span class="suppression expired">suppression expired: until the migration '
        "(until 2026-02-01)</span>"
    ) in page
    assert (
        '<span class="suppression">suppressed: accepted &lt;risk&gt; (until 2099-01-01)</span>'
    ) in page
    cluster = client.get("/cluster", params={"arn": DEV.arn}).text
    assert "suppression expired: until the migration" in cluster
