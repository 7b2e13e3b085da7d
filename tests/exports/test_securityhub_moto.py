"""`scan --securityhub`: BatchImportFindings and GetFindings through boto3 against moto behind
the loopback proxy (moto serves both; it ignores GetFindings filters, which cniguard re-checks)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.collect.permissions import write_policy
from cniguard.export.securityhub import OPERATIONS, read_previous, send, send_region
from cniguard.export.securityhub_plan import RegionPlan, plan_import
from cniguard.model.codec import save_inventory
from cniguard.model.finding import Finding, Report
from cniguard.model.inventory import Inventory
from cniguard.report.asff_format import product_arn
from exports.reports import ME, OTHER, T1, T2, arn, cluster, finding, report
from fakes.proxy import FakeAws, Faults

if TYPE_CHECKING:
    from mypy_boto3_securityhub import SecurityHubClient

REGIONS = ("us-east-1", "eu-west-1")


def client(region: str = "us-east-1") -> SecurityHubClient:
    return boto3.client("securityhub", region_name=region)


def hub_findings(region: str = "us-east-1") -> list[dict[str, Any]]:
    pages = client(region).get_paginator("get_findings").paginate()
    return [dict(f) for page in pages for f in page["Findings"]]


def fleet(count: int, status: str = "fail", at: str = T1) -> Report:
    """``count`` failing checks on 5 clusters per region (resources differ, so Ids differ)."""
    clusters = [cluster(f"c{i}", ME, r) for r in REGIONS for i in range(5)]
    findings: list[Finding] = []
    for n in range(count):
        c = clusters[n % len(clusters)]
        role = f"arn:aws:iam::{ME}:role/node-{n}"
        findings.append(finding("CNI002", status, c.arn, resource=role))  # type: ignore[arg-type]
    return report(clusters, findings, at=at)


def import_report(scan: Report) -> dict[str, Any]:
    previous = read_previous(list(REGIONS), ME, client)
    return send(plan_import(scan, ME, previous), client)


@pytest.fixture
def hub(aws: FakeAws) -> FakeAws:
    for region in REGIONS:
        client(region).enable_security_hub()
    return aws


def test_250_findings_go_in_batches_of_100_and_are_held_as_sent(hub: FakeAws) -> None:
    results = import_report(fleet(250))
    assert {r: (x.sent, x.calls, x.failed, x.missing) for r, x in results.items()} == {
        "eu-west-1": (125, 2, {}, []),
        "us-east-1": (125, 2, {}, []),
    }
    assert hub.traffic.calls["securityhub:BatchImportFindings"] == 4
    held = hub_findings()
    assert len(held) == len({f["Id"] for f in held}) == 125
    assert {(f["RecordState"], f["Compliance"]["Status"]) for f in held} == {("ACTIVE", "FAILED")}


def test_a_second_import_updates_the_same_ids_without_duplicates(hub: FakeAws) -> None:
    import_report(fleet(120, at=T1))
    first = {f["Id"]: f for f in hub_findings()}
    import_report(fleet(120, at=T2))
    second = {f["Id"]: f for f in hub_findings()}
    assert second.keys() == first.keys() and len(second) == 60
    assert {(f["CreatedAt"], f["UpdatedAt"]) for f in second.values()} == {(T1, T2)}


def test_resolved_findings_are_archived_and_unread_clusters_left_alone(hub: FakeAws) -> None:
    import_report(fleet(20, at=T1))
    resolved = fleet(20, status="pass", at=T2)
    # c0 of us-east-1 is not in this scan (another shard): its findings stay as they are
    scan = report(
        [c for c in resolved.clusters if c.arn != arn("c0")],
        [f for f in resolved.findings if f.cluster != arn("c0")],
        at=T2,
    )
    results = import_report(scan)
    assert {r: (x.sent, x.missing) for r, x in results.items()} == {
        "eu-west-1": (10, []),
        "us-east-1": (8, []),
    }
    states = sorted(
        (f["Resources"][0]["Id"].rsplit("/", 1)[-1], f["RecordState"], f["Compliance"]["Status"])
        for f in hub_findings()
    )
    assert states == sorted(
        [("c0", "ACTIVE", "FAILED")] * 2
        + [(f"c{i}", "ARCHIVED", "PASSED") for i in range(1, 5) for _ in range(2)]
    )


def test_throttled_imports_are_retried_by_the_client(hub: FakeAws) -> None:
    hub.faults = Faults(throttle_rate=1.0, max_faults_per_request=2)
    results = import_report(fleet(10))
    assert {r: (x.sent, x.calls, x.failed) for r, x in results.items()} == {
        "eu-west-1": (5, 1, {}),
        "us-east-1": (5, 1, {}),
    }
    assert hub.traffic.injected["throttle"] >= 2
    assert len(hub_findings()) == 5


def test_transient_refusals_are_sent_again_and_input_errors_are_reported() -> None:
    """botocore's Stubber checks both requests and answers against the Security Hub model."""
    stubbed: SecurityHubClient = boto3.client(
        "securityhub", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    docs = [{"Id": f"cniguard/{n}"} | _minimal() for n in range(3)]
    plan = RegionPlan("us-east-1", product_arn(ME, "us-east-1"), tuple(docs), (), ())
    slept: list[float] = []
    with Stubber(stubbed) as stub:
        stub.add_response(
            "batch_import_findings",
            {
                "FailedCount": 2,
                "SuccessCount": 1,
                "FailedFindings": [
                    {"Id": "cniguard/1", "ErrorCode": "InternalException", "ErrorMessage": "busy"},
                    {"Id": "cniguard/2", "ErrorCode": "InvalidInput", "ErrorMessage": "bad"},
                ],
            },
            {"Findings": docs},
        )
        stub.add_response(
            "batch_import_findings",
            {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []},
            {"Findings": [docs[1]]},
        )
        result = send_region(stubbed, plan, sleep=slept.append)
        stub.assert_no_pending_responses()
    assert (result.sent, result.calls, slept) == (2, 2, [0.5])
    assert result.failed == {"cniguard/2": "InvalidInput: bad"}


def test_the_write_policy_declares_the_import_and_both_are_real_operations() -> None:
    statement = next(
        s for s in write_policy()["Statement"] if s["Sid"] == "CniguardSecurityHubImport"
    )
    assert statement == {
        "Sid": "CniguardSecurityHubImport",
        "Effect": "Allow",
        "Action": ["securityhub:BatchImportFindings", "securityhub:GetFindings"],
        "Resource": "*",
    }
    names = botocore.session.get_session().get_service_model("securityhub").operation_names
    assert {a.split(":")[1] for a in OPERATIONS} <= set(names)


def test_scan_securityhub_is_a_dry_run_unless_yes(
    hub: FakeAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan = report(
        [cluster("a"), cluster("x", OTHER)],
        [finding("CNI002", "fail", arn("a")), finding("CNI001", "fail", arn("x", OTHER))],
    )
    inventory = _inventory(tmp_path)
    monkeypatch.setattr("cniguard.engine.evaluate", _returns(scan))
    args = ["scan", "--inventory", str(inventory), "--securityhub", "--format", "json"]
    dry = CliRunner().invoke(app, args)
    assert dry.exit_code == 0, dry.output
    assert dry.stderr.splitlines() == [
        f"cniguard: securityhub: account {ME}: us-east-1: 1 active (1 new, 0 updated), "
        "0 archived, 0 left as they are (cluster not read)",
        f"cniguard: securityhub: account {ME}: not sent (Security Hub takes findings only from "
        f"their own account; run in each account): {OTHER}: 1",
        "cniguard: securityhub: dry run, nothing sent (add --yes to send)",
    ]
    assert hub.traffic.calls["securityhub:BatchImportFindings"] == 0
    assert json.loads(dry.stdout)["findings"][0]["rule_id"] == "CNI002"

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sent = CliRunner().invoke(app, [*args, "--yes"])
    assert sent.exit_code == 0, sent.output
    journal = (
        tmp_path / "state/cniguard/cniguard-journal" / f"securityhub-{ME}-20261201T080000Z.json"
    )
    assert sent.stderr.splitlines()[-2:] == [
        f"cniguard: securityhub: journal: {journal}",
        "cniguard: securityhub: us-east-1: sent 1 finding(s) in 1 BatchImportFindings call(s); "
        "read back: all held as sent",
    ]
    [held] = hub_findings()
    assert held["GeneratorId"] == "cniguard/CNI002"
    record = json.loads(journal.read_text())
    assert (record["status"], record["account"]) == ("done", ME)
    assert record["regions"] == {
        "us-east-1": {
            "active": [held["Id"]],
            "archive": [],
            "result": {"sent": 1, "calls": 1, "failed": {}, "missing": []},
        }
    }


def test_security_hub_not_enabled_is_one_error_line(
    aws: FakeAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.faults = Faults(deny_actions=frozenset({"securityhub:GetFindings"}))
    monkeypatch.setattr(
        "cniguard.engine.evaluate",
        _returns(report([cluster("a")], [finding("CNI002", "fail", arn("a"))])),
    )
    result = CliRunner().invoke(
        app, ["scan", "--inventory", str(_inventory(tmp_path)), "--securityhub", "--yes"]
    )
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("cniguard: error: securityhub: An error occurred (AccessDenied")
    assert aws.traffic.calls["securityhub:BatchImportFindings"] == 0


def _minimal() -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "ProductArn": product_arn(ME, "us-east-1"),
        "GeneratorId": "cniguard/CNI002",
        "AwsAccountId": ME,
        "CreatedAt": T1,
        "UpdatedAt": T1,
        "Title": "t",
        "Description": "d",
        "Resources": [{"Type": "AwsEksCluster", "Id": arn("a")}],
    }


def _inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.json"
    save_inventory(Inventory(kind="live", generated_at=T1), path)
    return path


def _returns(scan: Report) -> Callable[..., Report]:
    return lambda *_args, **_kwargs: scan
