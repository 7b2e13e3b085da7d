"""`cniguard collect` and live `cniguard scan` through the CLI, against the fake endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.model.codec import load_inventory
from fakes import fleet
from fakes.proxy import FakeAws, Faults

LIVE = ["--regions", "us-east-1", "--no-cloudtrail", "--quiet"]


def test_collect_writes_an_inventory_that_scan_evaluates(aws: FakeAws, tmp_path: Path) -> None:
    acct = fleet.caller()
    built = fleet.cluster(
        aws, acct, "us-east-1", "cli", subnets=fleet.vpc_subnets(acct, "us-east-1")
    )
    out = tmp_path / "inventory.json"

    collected = CliRunner().invoke(app, ["collect", "-o", str(out), *LIVE])

    assert collected.exit_code == 0, collected.output
    inventory = load_inventory(out)
    assert [c.arn for c in inventory.clusters] == [built.arn]
    scanned = CliRunner().invoke(app, ["scan", "--inventory", str(out), "--format", "json"])
    assert scanned.exit_code == 0, scanned.output
    assert [c["arn"] for c in json.loads(scanned.stdout)["clusters"]] == [built.arn]


def test_live_scan_and_incomplete_exit(aws: FakeAws) -> None:
    acct = fleet.caller()
    built = fleet.cluster(
        aws, acct, "us-east-1", "cli", subnets=fleet.vpc_subnets(acct, "us-east-1")
    )
    aws.faults = Faults(deny_actions=frozenset({"eks:ListAddons"}))

    result = CliRunner().invoke(app, ["scan", "--format", "json", "--fail-on-incomplete", *LIVE])

    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert [c["arn"] for c in report["clusters"]] == [built.arn]


def test_bad_shard_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["collect", "-o", "x.json", "--shard", "4/4"])

    assert result.exit_code == 2
    assert "--shard expects i/N" in result.output


def test_watch_scans_live_into_the_store(aws: FakeAws, tmp_path: Path) -> None:
    from cniguard.store.database import get_engine
    from cniguard.store.queries import list_scans

    acct = fleet.caller()
    fleet.cluster(aws, acct, "us-east-1", "watched", subnets=fleet.vpc_subnets(acct, "us-east-1"))
    db = f"sqlite:///{tmp_path / 'history.db'}"

    result = CliRunner().invoke(
        app, ["watch", "--db", db, "--iterations", "2", "--every", "1s", *LIVE]
    )

    assert result.exit_code == 0, result.output
    assert result.output.count("(1 clusters") == 2
    assert [s["clusters"] for s in list_scans(get_engine(db))] == [1, 1]
