"""Issue 12: the demo stays alive on any date, and the read-only store commands say what they read."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.demo import DEMO_NOW, build_fleet, demo_config
from cniguard.demo.clock import instant_text, moved_config, moved_inventory, parse_instant
from cniguard.engine import evaluate
from cniguard.model.finding import Report

runner = CliRunner()


def _outcome(report: Report) -> list[tuple[str, str, str, str, str | None]]:
    return sorted(
        (
            f.rule_id,
            f.cluster,
            f.status,
            f.severity,
            None if f.suppression is None else str(f.suppression.expired),
        )
        for f in report.findings
    )


@pytest.mark.parametrize("when", ["2026-12-06T13:00:00Z", "2031-05-01T00:00:00Z"])
def test_moved_demo_concludes_the_same(when: str) -> None:
    now = parse_instant(when)
    fixed = evaluate(build_fleet(), demo_config(), generated_at=DEMO_NOW)
    moved = evaluate(
        moved_inventory(build_fleet(), now),
        moved_config(demo_config(), now),
        generated_at=instant_text(now),
    )
    assert _outcome(moved) == _outcome(fixed)
    assert moved.kpis == fixed.kpis
    inventory = moved_inventory(build_fleet(), now)
    assert inventory.generated_at == when
    assert {s.end for s in inventory.cloudtrail_scopes} == {when}
    first, *_ = [c.kube for c in inventory.clusters if c.kube is not None]
    assert first.collected_at == when


def test_stored_demo_is_inside_the_default_kpi_window(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    stored = runner.invoke(app, ["demo", "--db", url, "-o", str(tmp_path / "r.txt")])
    assert (stored.exit_code, stored.stderr.splitlines()[-1]) == (
        0,
        f"cniguard: stored scan 1 in {url}",
    )
    result = runner.invoke(app, ["kpi", "--db", url, "-f", "json"])
    assert result.exit_code == 0, result.output
    kpis = json.loads(result.stdout)
    assert (kpis["clusters"], kpis["irsa_compliance_pct"]) == (16, 15.4)
    since = dt.datetime.fromisoformat(kpis["window"]["since"].replace("Z", "+00:00"))
    assert dt.datetime.now(dt.UTC) - since < dt.timedelta(days=30, minutes=5)
    table = runner.invoke(app, ["kpi", "--db", url]).stdout
    lines = table.splitlines()
    assert (lines[0], lines[2]) == (f"Store: {url}", "Clusters                          16")


def test_kpi_on_a_mistyped_sqlite_path_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "cniguard.db"
    result = runner.invoke(app, ["kpi", "--db", f"sqlite:///{missing}"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"cniguard: error: store sqlite:///{missing}: no such database file (a read-only "
        "command creates none; check the path, or store scans first with `cniguard scan --db` "
        "or `cniguard demo --db`)\n"
    )
    assert not missing.parent.exists()


def test_kpi_on_an_empty_store_says_no_scans_and_where(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    from cniguard.store.database import open_store

    open_store(url)  # a migrated store without scans
    result = runner.invoke(app, ["kpi", "--db", url])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == (
        f"cniguard: no scans stored yet in {url}: run `cniguard demo --db {url}` to try it, "
        f"or `cniguard scan --db {url}`\n"
    )


def test_kpi_on_the_missing_default_store_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cniguard.store.database import get_engine

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    get_engine.cache_clear()  # "default" may be cached for another test's data directory
    result = runner.invoke(app, ["kpi"])
    assert (result.exit_code, result.stdout) == (0, "")
    url = f"sqlite:///{tmp_path}/cniguard/cniguard.db"
    assert (tmp_path / "cniguard" / "cniguard.db").is_file()  # the default store is made on use
    assert result.stderr == (
        f"cniguard: no scans stored yet in {url}: run `cniguard demo --db default` to try it, "
        "or `cniguard scan --db default`\n"
    )
