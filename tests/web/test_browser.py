"""The dashboard in a real headless Chromium: pages load, a filter works, hostile tags stay text."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from cniguard.web.app import create_app

from .fleet import HOSTILE, build_store

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
        reason="Debian's chromium and chromedriver are not installed",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = create_app(build_store(tmp_path_factory.mktemp("web")))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _no_alert(driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text


def _open(browser: Any, link: str) -> None:
    """Follow a link and wait for the next page to replace this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "main")
    browser.find_element(By.LINK_TEXT, link).click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(page))


def test_overview_shows_kpis_and_charts(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/?since=3650d")
    assert browser.find_element(By.CSS_SELECTOR, "#kpi-compliance .value").text == "66.7%"
    assert browser.find_element(By.CSS_SELECTOR, "#kpi-mttr .value").text == "24.0 h"
    # two scan days in a row: one segment per series with values on both days (compliance 2,
    # findings 3, modes irsa and node_role 2, coverage 1; MTTR has a value on one day only)
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg polyline")) == 8
    hover = browser.find_element(By.CSS_SELECTOR, "svg circle title")
    assert hover.get_attribute("textContent") == "all clusters 2026-03-01: 66.7%"


def test_filter_by_region(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(base_url + "/clusters")
    table = browser.find_element(By.ID, "clusters")
    assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) == 3
    Select(browser.find_element(By.ID, "filter-region")).select_by_visible_text("us-east-1")
    browser.find_element(By.ID, "apply").click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(table))
    rows = browser.find_elements(By.CSS_SELECTOR, "#clusters tbody tr")
    assert [r.find_element(By.TAG_NAME, "a").text for r in rows] == ["dev-b"]
    assert browser.current_url.endswith(
        "region=us-east-1&environment=&mode=&production=&compliant=&complete="
    )


def test_hostile_tag_value_is_text(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/clusters")
    _no_alert(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main script") == []
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#clusters td")]
    assert HOSTILE in cells
    _open(browser, "evil-c")
    assert browser.find_element(By.ID, "cluster-environment").text == HOSTILE
    _no_alert(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main script") == []


def test_cluster_page_shows_evidence_and_fix(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/clusters")
    _open(browser, "prod-a")
    titles = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "article.finding h3")]
    assert titles == [
        "high CNI002 · CNI002 title (open)",
        "critical CNI030 · CNI030 title (resolved)",
    ]
    assert "Detach AmazonEKS_CNI_Policy after IRSA is verified." in browser.page_source


TILES: tuple[tuple[str, str, str, str, list[str]], ...] = (
    (
        "kpi-compliance",
        "66.7%",
        "/clusters?compliant=no",
        "#clusters tbody td:first-child a",
        ["prod-a"],
    ),
    (
        "kpi-prod-compliance",
        "0.0%",
        "/clusters?production=yes&compliant=no",
        "#clusters tbody td:first-child a",
        ["prod-a"],
    ),
    (
        "kpi-prod-node-role",
        "1",
        "/clusters?production=yes&mode=node_role",
        "#clusters tbody td:first-child a",
        ["prod-a"],
    ),
    (
        "kpi-node-role",
        "1",
        "/findings?rule=CNI002&severity=critical&severity=high",
        "#findings tbody tr a",
        ["prod-a"],
    ),
    ("kpi-mttr", "24.0 h", "/incidents?mttr=yes&since=3650d", "#incidents tbody tr a", ["prod-a"]),
    ("kpi-coverage", "100.0%", "/clusters?complete=no", "#clusters tbody td:first-child a", []),
)


@pytest.mark.parametrize(("tile", "value", "path", "rows", "names"), TILES)
def test_walk_from_each_overview_number_to_its_list_and_back(
    browser: Any, base_url: str, tile: str, value: str, path: str, rows: str, names: list[str]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base_url + "/?since=3650d")
    number = browser.find_element(By.ID, tile)
    assert number.find_element(By.CLASS_NAME, "value").text == value
    number.click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(number))
    assert browser.current_url == base_url + path
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, rows)] == names
    listing = browser.find_element(By.TAG_NAME, "main")
    browser.back()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(listing))
    assert browser.current_url == base_url + "/?since=3650d"
    assert browser.find_element(By.CSS_SELECTOR, f"#{tile} .value").text == value


@pytest.mark.parametrize("path", ["/clusters", "/findings?state=all", "/incidents", "/"])
def test_phone_width_page_does_not_scroll_sideways(browser: Any, base_url: str, path: str) -> None:
    browser.set_window_size(390, 844)
    try:
        browser.get(base_url + path)
        page_width, viewport = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert page_width <= viewport, (path, page_width, viewport)
    finally:
        browser.set_window_size(1280, 900)
