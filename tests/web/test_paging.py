"""Long listings: pages of 100 on the dashboard, ``limit``/``offset`` and a total on the API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cniguard.web.app import create_app

from .fleet import build_wide_store


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return TestClient(create_app(build_wide_store(tmp_path_factory.mktemp("wide"), 250)))


def _names(page: str) -> list[str]:
    return re.findall(r'/cluster\?arn=[^"]*cluster/(c\d{3})">', page)


def test_clusters_page_shows_one_page_and_links_the_next(client: TestClient) -> None:
    first = client.get("/clusters").text
    assert _names(first) == [f"c{i:03d}" for i in range(100)]
    assert "Showing 1 to 100 of 250" in first
    assert 'href="/clusters?page=2" rel="next"' in first
    assert 'rel="prev"' not in first
    last = client.get("/clusters", params={"page": 3}).text
    assert _names(last) == [f"c{i:03d}" for i in range(200, 250)]
    assert "Showing 201 to 250 of 250" in last
    assert 'href="/clusters?page=2" rel="prev"' in last
    assert 'rel="next"' not in last


def test_pages_keep_the_filters(client: TestClient) -> None:
    page = client.get("/clusters", params={"mode": "node_role", "page": 1}).text
    assert "Showing 1 to 84 of 84" in page
    assert _names(page)[:3] == ["c000", "c003", "c006"]
    findings = client.get("/findings", params={"state": "open", "page": 1}).text
    assert "Showing 1 to 84 of 84" in findings
    assert 'rel="next"' not in findings
    assert client.get("/clusters", params={"page": 0}).status_code == 422


def test_findings_page_links_the_next_with_its_state(tmp_path: Path) -> None:
    wide = TestClient(create_app(build_wide_store(tmp_path, 450)))
    page = wide.get("/findings", params={"state": "open"}).text
    assert "Showing 1 to 100 of 150" in page
    assert 'href="/findings?state=open&amp;page=2" rel="next"' in page


def test_api_limit_offset_and_total(client: TestClient) -> None:
    response = client.get("/api/clusters", params={"limit": 2, "offset": 3})
    assert [c["name"] for c in response.json()] == ["c003", "c004"]
    assert response.headers["x-total-count"] == "250"
    assert set(response.json()[0]) == {
        "arn",
        "name",
        "account",
        "region",
        "environment",
        "production",
        "cni_identity",
        "compliant",
        "basis",
        "complete",
        "stuck_pods",
        "notready_nodes",
        "open_findings",
        "last_scan_id",
        "last_scanned",
    }
    everything = client.get("/api/clusters")
    assert (len(everything.json()), everything.headers["x-total-count"]) == (250, "250")
    beyond = client.get("/api/clusters", params={"offset": 300})
    assert (beyond.json(), beyond.headers["x-total-count"]) == ([], "250")
    found = client.get("/api/findings", params={"state": "open", "limit": 1, "offset": 83})
    assert [(f["rule_id"], f["cluster"].rsplit("/", 1)[1]) for f in found.json()] == [
        ("CNI002", "c249")
    ]
    assert found.headers["x-total-count"] == "84"
    assert client.get("/api/clusters", params={"limit": 0}).status_code == 422
    assert client.get("/api/findings", params={"offset": -1}).status_code == 422
