"""Every overview number links to the list behind it, and the overview says how fresh data is."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cniguard.model.finding import Report
from cniguard.store import save_report
from cniguard.web.app import create_app

from .fleet import DEV, PROD, build_store

ALL_TIME = {"since": "3650d"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return TestClient(create_app(build_store(tmp_path_factory.mktemp("overview"))))


def _tile(page: str, tile: str) -> tuple[str, str]:
    match = re.search(
        rf'<a class="tile" id="{tile}" href="([^"]+)"><span class="value">([^<]+)<', page
    )
    assert match is not None, tile
    return html.unescape(match.group(1)), match.group(2)


def _listed(client: TestClient, href: str) -> list[str]:
    page = client.get(href)
    assert page.status_code == 200, href
    return re.findall(r'<a href="/cluster\?arn=[^"]*cluster/([\w-]+)">', page.text)


@pytest.mark.parametrize(
    ("tile", "href", "value", "names"),
    [
        ("kpi-compliance", "/clusters?compliant=no", "66.7%", ["prod-a"]),
        ("kpi-prod-compliance", "/clusters?production=yes&compliant=no", "0.0%", ["prod-a"]),
        ("kpi-prod-node-role", "/clusters?production=yes&mode=node_role", "1", ["prod-a"]),
        ("kpi-node-role", "/findings?rule=CNI002&severity=critical&severity=high", "1", ["prod-a"]),
        ("kpi-mttr", "/incidents?mttr=yes&since=3650d", "24.0 h", ["prod-a"]),
        ("kpi-coverage", "/clusters?complete=no", "100.0%", []),
    ],
)
def test_each_number_links_to_its_list(
    client: TestClient, tile: str, href: str, value: str, names: list[str]
) -> None:
    page = client.get("/", params=ALL_TIME).text
    assert _tile(page, tile) == (href, value)
    assert _listed(client, href) == names


def test_mttr_list_holds_the_incidents_it_averages(client: TestClient) -> None:
    listed = client.get("/api/incidents", params={"mttr": "yes", "since": "3650d"}).json()
    assert [(i["rule_id"], i["resolution"], i["seconds_to_resolve"]) for i in listed] == [
        ("CNI030", "fixed", 86400.0)
    ]
    assert '<td class="ttr">1d 0h</td>' in client.get("/incidents?mttr=yes&since=3650d").text


def test_table_counts_link_to_their_lists(client: TestClient) -> None:
    page = client.get("/", params=ALL_TIME).text
    assert '<a href="/clusters?mode=irsa">2</a>' in page
    assert '<a href="/clusters?mode=node_role&amp;production=yes">1</a>' in page
    assert '<a href="/findings?severity=high">1</a>' in page
    assert _listed(client, "/clusters?mode=irsa") == ["evil-c", "dev-b"]  # by region
    assert _listed(client, "/findings?severity=high") == ["prod-a"]


def test_old_data_is_flagged_stale(client: TestClient) -> None:
    page = client.get("/", params=ALL_TIME).text
    assert "Stale data: 2 account/region(s) have clusters not scanned in the last 2 days" in page
    rows = re.findall(
        r'<tr class="(stale|fresh)"><td><a href="[^"]+">(\d+)</a></td><td>([\w-]+)', page
    )
    assert rows == [("stale", "111122223333", "eu-west-1"), ("stale", "111122223333", "us-east-1")]
    assert "2026-03-02 06:00" in page


def test_recent_data_is_fresh(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    save_report(
        url,
        Report(
            kind="live",
            generated_at=now.isoformat().replace("+00:00", "Z"),
            tool_version="0.1.0",
            clusters=(PROD, DEV),
            findings=(),
            coverage={"gaps": []},
        ),
    )
    page = TestClient(create_app(url)).get("/").text
    assert "Stale data" not in page
    assert page.count('<tr class="fresh">') == 2
    assert now.strftime("%Y-%m-%d %H:%M") in page
