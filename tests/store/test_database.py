"""Schema migrations, atomic writes under a kill, and concurrent writers."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, inspect, select, text

from cniguard.model.finding import Status
from cniguard.store import save_report
from cniguard.store.database import (
    alembic_config,
    default_sqlite_url,
    get_engine,
    resolve_url,
    upgrade,
    write_transaction,
)
from cniguard.store.schema import Scan, ScanCluster, StoredFinding
from cniguard.store.scope import as_utc

from .factory import arn, cluster, finding, report

CHILD = """
import json, sys, time
from pathlib import Path
import cniguard.store.repository as repository
from cniguard.model.codec import report_from_json

url, report_file, marker = sys.argv[1:]
track = repository._track_findings

def track_then_hang(session, *args):
    track(session, *args)
    session.flush()
    Path(marker).write_text("mid-write")
    time.sleep(120)

repository._track_findings = track_then_hang
repository.save_report(url, report_from_json(json.loads(Path(report_file).read_text())))
"""


def test_upgrade_from_the_first_revision_keeps_data(db_url: str) -> None:
    engine = create_engine(db_url)
    upgrade(engine, "0001")
    assert "alerts_sent" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO scans (generated_at, day, stored_at, kind, tool_version, coverage, kpis)"
            " VALUES ('2026-01-01 00:00:00', '2026-01-01', '2026-01-01 00:00:00', 'live',"
            " '0.0.9', '{}', '{}')"
        ))
        conn.execute(text(
            "INSERT INTO scan_clusters (scan_id, arn, name, account, region, production,"
            " identity_mode, complete) VALUES (1, 'arn:c', 'c', '1', 'r', false, 'irsa', true)"
        ))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
        assert conn.execute(text("SELECT tool_version FROM scans")).scalars().all() == ["0.0.9"]
        assert conn.execute(text(
            "SELECT arn, scan_cluster_id, scan_id, name, identity_mode, compliant"
            " FROM cluster_latest")).all() == [("arn:c", 1, 1, "c", "irsa", None)]
        assert conn.execute(text("SELECT day, arn, scan_cluster_id FROM cluster_day")).all() == [
            ("2026-01-01", "arn:c", 1)]
        assert conn.execute(text(
            "SELECT day, identity_mode, production, compliant, complete, clusters"
            " FROM fleet_daily")).all() == [("2026-01-01", "irsa", False, False, True, 1)]
    assert "alerts_sent" in inspect(engine).get_table_names()
    assert "last_judged_at" in {c["name"] for c in inspect(engine).get_columns("findings")}
    engine.dispose()


def _judged_by_cluster(engine: Engine) -> dict[str, dt.datetime | None]:
    with engine.connect() as conn:
        return {
            name.rsplit("/", 1)[1]: as_utc(at) if at is not None else None
            for name, at in conn.execute(select(StoredFinding.cluster, StoredFinding.last_judged_at))
        }


def test_upgrade_from_0004_backfills_the_last_judgement(db_url: str) -> None:
    """Back to 0004 (the column dropped, the data kept) and up again: each finding's newest
    judgement that the history still shows; a pass after a resolution left none (f)."""
    names = "abcdef"
    history = (  # per cluster a..f at 06:00, 08:00, 10:00; "" = read, the finding absent
        ("F", "F", "F"), ("F", "F", "P"), ("F", "F", ""), ("F", "F", "U"), ("U", "U", "U"),
        ("F", "P", "P"),
    )
    status: dict[str, Status] = {"F": "fail", "P": "pass", "U": "unknown"}
    for column, hour in enumerate(("06", "08", "10")):
        findings = [finding("CNI001", n, severity="critical", status=status[h[column]])
                    for n, h in zip(names, history, strict=True) if h[column]]
        save_report(db_url, report(f"2026-03-02T{hour}:00:00Z",
                                   [cluster(n, "node_role") for n in names], findings))
    engine = get_engine(db_url)
    at = {h: dt.datetime(2026, 3, 2, h, tzinfo=dt.UTC) for h in (6, 8, 10)}
    assert _judged_by_cluster(engine) == {
        "a": at[10], "b": at[10], "c": at[10], "d": at[8], "e": None, "f": at[10]}
    with write_transaction(engine) as conn:
        command.downgrade(alembic_config(conn), "0004")
    assert "last_judged_at" not in {c["name"] for c in inspect(engine).get_columns("findings")}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(StoredFinding.__table__)) == 6
        assert conn.scalar(text("SELECT COUNT(*) FROM incidents")) == 5
    upgrade(engine)
    assert _judged_by_cluster(engine) == {
        "a": at[10], "b": at[10], "c": at[10], "d": at[6], "e": None, "f": at[8]}
    late = finding("CNI001", "b", severity="critical")  # older than b's backfilled 10:00 fix
    save_report(db_url, report("2026-03-02T09:00:00Z", [cluster("b", "node_role")], [late]))
    with engine.connect() as conn:
        is_open, resolved_at = conn.execute(select(StoredFinding.is_open, StoredFinding.resolved_at)
                                            .where(StoredFinding.cluster == arn("b"))).one()
    assert (is_open, resolved_at and as_utc(resolved_at)) == (False, at[10])


def test_kill_mid_write_leaves_no_partial_scan(db_url: str, tmp_path: Path) -> None:
    first = report("2026-03-01T00:00:00Z", [cluster("a")], [finding("CNI002", "a")])
    save_report(db_url, first)
    big = report(
        "2026-03-02T00:00:00Z",
        [cluster(f"c{i}") for i in range(200)],
        [finding("CNI002", f"c{i}") for i in range(200)],
    )
    report_file, marker = tmp_path / "report.json", tmp_path / "marker"
    report_file.write_text(json.dumps(big.to_json()))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(report_file), str(marker)], env=env
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "mid-write"
    child.send_signal(signal.SIGKILL)
    child.wait()
    engine = get_engine(db_url)
    with engine.connect() as conn:
        counts = [conn.scalar(select(func.count()).select_from(t))
                  for t in (Scan, ScanCluster, StoredFinding)]
    assert counts == [1, 1, 1]
    save_report(db_url, big)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ScanCluster)) == 201


def test_concurrent_writers_all_land(db_url: str) -> None:
    reports = [
        report(f"2026-03-0{i + 1}T00:00:00Z", [cluster(f"c{i}"), cluster("shared")],
               [finding("CNI002", "shared"), finding("CNI020", f"c{i}", severity="low")])
        for i in range(6)
    ]
    get_engine(db_url)
    with ThreadPoolExecutor(max_workers=3) as pool:
        ids = list(pool.map(lambda r: save_report(db_url, r), reports))
    engine = get_engine(db_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Scan)) == 6
        assert conn.scalar(select(func.count()).select_from(StoredFinding)) == 7
    assert len(set(ids)) == 6


def test_default_url_is_sqlite_in_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    expected = f"sqlite:///{tmp_path / 'cniguard' / 'cniguard.db'}"
    assert default_sqlite_url() == expected
    assert resolve_url("default") == expected
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"
