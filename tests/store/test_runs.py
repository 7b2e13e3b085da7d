"""Shards of one run (``--run-id``): a run is whole only when all its shards are stored, a missing
shard is named with the accounts nobody read, and shards must agree on how many there are."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.cli.store import kpi_table
from cniguard.model.finding import Report
from cniguard.store import save_report
from cniguard.store.database import StoreError, get_engine, upgrade
from cniguard.store.kpi import compute_kpis
from cniguard.store.runs import run_coverage
from cniguard.store.schema import ClusterLatest, Scan, ScanCluster, StoredFinding
from cniguard.store.scope import RunError, RunTag, run_of, tag_run
from cniguard.web.app import create_app

from .factory import cluster, finding, report

ACCOUNTS = ("100000000001", "100000000002", "100000000003", "100000000004")
REGIONS = ["eu-west-1", "us-east-1"]


def _shard_report(
    at: str, index: int, count: int, findings: bool = True, run: str = "nightly-1", **coverage: Any
) -> Report:
    """Shard ``index`` of ``count`` over ACCOUNTS (sorted position mod count, as --shard)."""
    mine = [a for pos, a in enumerate(ACCOUNTS) if pos % count == index]
    clusters = [cluster(f"c{a[-1]}", "node_role", account=a) for a in mine]
    failing = [finding("CNI002", f"c{a[-1]}", account=a) for a in mine] if findings else []
    base = report(at, clusters, failing)
    collection = {"accounts_in_scope": list(ACCOUNTS), "scope": {"regions": REGIONS}}
    full = {**base.coverage, "accounts": mine, "regions": REGIONS, "clusters": len(mine)}
    full.update(collection=collection, **coverage)
    return tag_run(replace(base, coverage=full), run, (index, count))


def _open(url: str) -> list[tuple[str, str]]:
    with get_engine(url).connect() as conn:
        return sorted(
            (r.account, r.rule_id)
            for r in conn.execute(
                select(StoredFinding.account, StoredFinding.rule_id).where(
                    StoredFinding.is_open.is_(True)
                )
            )
        )


def test_a_missing_shard_resolves_nothing_and_names_what_was_not_read(db_url: str) -> None:
    for index in range(2):
        save_report(db_url, _shard_report(f"2026-03-01T06:0{index}:00Z", index, 2))
    assert _open(db_url) == [(a, "CNI002") for a in ACCOUNTS]

    fixed = _shard_report("2026-03-02T06:00:00Z", 0, 2, findings=False, run="nightly-2")
    save_report(db_url, fixed)
    save_report(db_url, fixed)

    # shard 1 (accounts 2 and 4) never stored: its findings stay open
    assert _open(db_url) == [(ACCOUNTS[1], "CNI002"), (ACCOUNTS[3], "CNI002")]
    with get_engine(db_url).connect() as conn:
        coverage = run_coverage(conn, "nightly-2")
    assert coverage is not None
    assert coverage.as_json() == {
        "run_id": "nightly-2",
        "complete": False,
        "shards": 2,
        "shards_stored": [0],
        "shards_missing": [1],
        "scan_ids": [4],  # the retried shard counts once, at its newest copy
        "accounts_known": True,
        "accounts_in_scope": 4,
        "accounts_read": 2,
        "regions_read": REGIONS,
        "not_read": [
            {"account": ACCOUNTS[1], "regions": REGIONS},
            {"account": ACCOUNTS[3], "regions": REGIONS},
        ],
        "clusters": 2,
        "gaps": 0,
    }
    kpis = compute_kpis(get_engine(db_url))
    assert kpis["latest_run"] == coverage.as_json()
    row = next(line for line in kpi_table(kpis).splitlines() if line.startswith("Latest run"))
    assert row.split("  ")[-1].strip() == (
        f"nightly-2: INCOMPLETE, 1/2 shard(s) stored (missing: 1); not read: {ACCOUNTS[1]}, "
        f"{ACCOUNTS[3]}"
    )
    overview = TestClient(create_app(db_url)).get("/").text
    assert (
        '<p class="warning" id="run-incomplete">Run nightly-2 is incomplete: 1/2 shard(s) stored; '
        "2 account(s) not read. Findings where it did not read stay as the last scan that read "
        "them left them.</p>"
    ) in overview


def test_a_whole_run_is_complete_and_unread_regions_are_named(db_url: str) -> None:
    unread_region = {
        "what": "eks:clusters",
        "reason": "AccessDenied",
        "account": ACCOUNTS[0],
        "region": "us-east-1",
    }
    save_report(db_url, _shard_report("2026-03-01T06:00:00Z", 0, 2, gaps=[unread_region]))
    save_report(db_url, _shard_report("2026-03-01T06:01:00Z", 1, 2))
    with get_engine(db_url).connect() as conn:
        coverage = run_coverage(conn, "nightly-1")
    assert coverage is not None
    assert (coverage.missing, coverage.not_read, coverage.complete) == (
        (),
        ((ACCOUNTS[0], "us-east-1"),),
        False,
    )

    save_report(db_url, _shard_report("2026-03-02T06:00:00Z", 0, 2))
    with get_engine(db_url).connect() as conn:
        healed = run_coverage(conn, "nightly-1")
    assert healed is not None
    assert (healed.stored, healed.not_read, healed.complete) == ((0, 1), (), True)


def test_an_organization_that_could_not_be_listed_is_never_complete(db_url: str) -> None:
    listing = {"what": "organizations:accounts", "reason": "AccessDenied", "account": ACCOUNTS[0]}
    save_report(db_url, _shard_report("2026-03-01T06:00:00Z", 0, 1, gaps=[listing]))
    with get_engine(db_url).connect() as conn:
        coverage = run_coverage(conn, "nightly-1")
    assert coverage is not None
    assert (coverage.missing, coverage.not_read, coverage.accounts_known, coverage.complete) == (
        (),
        (),
        False,
        False,
    )


def test_shards_must_agree_on_their_count(db_url: str) -> None:
    save_report(db_url, _shard_report("2026-03-01T06:00:00Z", 0, 2))
    with pytest.raises(
        StoreError,
        match=r"run nightly-1 was stored with 2 shard\(s\); "
        r"this report says shard 2 of 4",
    ):
        save_report(db_url, _shard_report("2026-03-01T06:00:00Z", 2, 4))
    with get_engine(db_url).connect() as conn:
        assert conn.scalar(select(Scan.id).where(Scan.shard_count == 4)) is None


def test_a_malformed_run_tag_is_refused(db_url: str) -> None:
    bad = report("2026-03-01T06:00:00Z", [cluster("a")])
    bad = replace(bad, coverage={**bad.coverage, "run": {"id": "x", "shard": 3}})
    with pytest.raises(StoreError, match=r"coverage\.run expects"):
        save_report(db_url, bad)


def test_run_tags() -> None:
    plain = report("2026-03-01T06:00:00Z", [cluster("a")])
    assert run_of(plain) is None
    assert run_of(tag_run(plain, "r.1:a-b_c", None)) == RunTag("r.1:a-b_c", 0, 1)
    assert run_of(tag_run(plain, "r", (3, 4))) == RunTag("r", 3, 4)
    for bad in ("", "-x", "a b", "x" * 129, "ü"):
        with pytest.raises(RunError, match="--run-id expects"):
            tag_run(plain, bad, None)


def test_basis_is_stored_with_each_cluster(db_url: str) -> None:
    with_basis = [
        replace(cluster("a"), basis="pods"),
        replace(cluster("b"), basis="aws_only"),
        cluster("c"),
    ]
    save_report(db_url, report("2026-03-01T06:00:00Z", with_basis))
    with get_engine(db_url).connect() as conn:
        history = conn.execute(select(ScanCluster.name, ScanCluster.basis)).all()
        latest = conn.execute(select(ClusterLatest.name, ClusterLatest.basis)).all()
    assert sorted(history) == sorted(latest) == [("a", "pods"), ("b", "aws_only"), ("c", None)]


def test_upgrade_from_0005_adds_runs_and_basis_empty(db_url: str) -> None:
    engine = create_engine(db_url)
    upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO scans (generated_at, day, stored_at, kind, tool_version, coverage, kpis)"
                " VALUES ('2026-01-01 00:00:00', '2026-01-01', '2026-01-01 00:00:00', 'live',"
                " '0.0.9', '{}', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO scan_clusters (scan_id, arn, name, account, region, production,"
                " identity_mode, complete) VALUES (1, 'arn:c', 'c', '1', 'r', false, 'irsa', true)"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT run_id, shard_index, shard_count FROM scans")).all() == [
            (None, None, None)
        ]
        assert conn.execute(text("SELECT basis FROM scan_clusters")).all() == [(None,)]
    upgrade(engine, "0005")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT tool_version FROM scans")).scalars().all() == ["0.0.9"]
    engine.dispose()


def test_run_id_is_checked_before_anything_is_read(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["scan", "--run-id", "a b", "--regions", "eu-west-1"])
    assert (bad.exit_code, bad.output.strip()) == (
        2,
        "cniguard: error: --run-id expects 1-128 letters, digits, '.', '_', ':' or '-', got 'a b'",
    )
    inventory = tmp_path / "inv.json"
    inventory.write_text("{}")
    offline = runner.invoke(app, ["scan", "--run-id", "r1", "--inventory", str(inventory)])
    assert (offline.exit_code, offline.output.strip()) == (
        2,
        "cniguard: error: --run-id names a live scan's shard; it does not apply to --inventory",
    )


def test_a_shard_that_did_not_record_the_run_accounts_leaves_it_unknown(db_url: str) -> None:
    shard = _shard_report("2026-03-01T06:00:00Z", 0, 1)
    save_report(db_url, replace(shard, coverage={**shard.coverage, "collection": {}}))
    with get_engine(db_url).connect() as conn:
        coverage = run_coverage(conn, "nightly-1")
    assert coverage is not None
    assert (coverage.stored, coverage.accounts_known, coverage.complete) == ((0,), False, False)
