"""A saved inventory is stored at its collection time, and only once however often it is scanned."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.demo import build_fleet
from cniguard.model.codec import save_inventory
from cniguard.store.database import get_engine


def _scans(url: str) -> list[tuple[int, str]]:
    with get_engine(url).connect() as conn:
        rows = conn.execute(text("SELECT id, generated_at FROM scans ORDER BY id")).all()
    return [(row[0], str(row[1])[:19]) for row in rows]


def _scan(inventory: Path, url: str) -> str:
    result = CliRunner().invoke(
        app, ["scan", "--inventory", str(inventory), "--db", url, "-f", "json", "-o", "/dev/null"]
    )
    assert result.exit_code in (0, 1), result.output
    return result.stderr.strip().splitlines()[-1]


def test_the_same_inventory_is_stored_once_at_its_collection_time(
    db_url: str, tmp_path: Path
) -> None:
    fleet = dataclasses.replace(build_fleet(), generated_at="2026-05-04T03:02:01Z")
    first, changed = tmp_path / "a.json", tmp_path / "b.json"
    save_inventory(fleet, first)
    save_inventory(dataclasses.replace(fleet, clusters=fleet.clusters[1:]), changed)

    assert _scan(first, db_url).startswith("cniguard: stored scan 1 in ")
    assert _scan(first, db_url).startswith("cniguard: this inventory is already stored as scan 1 ")
    assert _scan(changed, db_url).startswith("cniguard: stored scan 2 in ")
    assert _scans(db_url) == [(1, "2026-05-04 03:02:01"), (2, "2026-05-04 03:02:01")]
