"""`cniguard impact` end to end on a saved inventory: flags, --calls, --terraform-plan, formats,
exit codes and one-line input errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.demo import build_fleet
from cniguard.model.codec import save_inventory

CNI = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
runner = CliRunner()


@pytest.fixture
def inv(tmp_path: Path) -> Path:
    path = tmp_path / "inv.json"
    save_inventory(build_fleet(), path)
    return path


def run(*args: str) -> Any:
    return runner.invoke(app, ["impact", *args])


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def test_calls_that_break_a_cluster_exit_1_with_json_contract(inv: Path, tmp_path: Path) -> None:
    calls = write(
        tmp_path / "calls.json",
        [
            {
                "eventName": "DetachRolePolicy",
                "requestParameters": {"roleName": "checkout-prod-node", "policyArn": CNI},
            },
            {
                "eventName": "DetachRolePolicy",
                "requestParameters": {"roleName": "search-prod-node", "policyArn": CNI},
            },
        ],
    )
    out = run("--inventory", str(inv), "--calls", str(calls), "--format", "json")
    assert out.exit_code == 1
    doc = json.loads(out.stdout)
    assert doc["schema"] == "cniguard.impact/v1"
    assert len(doc["inventory_fingerprint"]) == 64
    assert [c["kind"] for c in doc["changes"]] == ["detach_role_policy", "detach_role_policy"]
    assert [
        (c["cluster"], c["verdict"], c["mode_before"], c["mode_after"]) for c in doc["clusters"]
    ] == [
        ("checkout-prod", "breaks", "node_role", "none"),
        ("search-prod", "unaffected", "mixed", "mixed"),
    ]
    assert [f["rule_id"] for f in doc["clusters"][0]["newly_failing"]] == ["CNI001"]
    assert [f["rule_id"] for f in doc["clusters"][0]["resolved"]] == ["CNI002"]
    assert doc["summary"]["breaks"] == 1 and doc["summary"]["clusters_in_inventory"] == 16


def test_safe_change_exits_0_and_fail_on_is_honoured(inv: Path) -> None:
    safe = run("--inventory", str(inv), "--delete-inline", "search-prod-node:bootstrap-ec2")
    assert safe.exit_code == 0
    assert "SAFE       search-prod  (111111111111 eu-west-1)  mode: mixed" in safe.stdout
    assert all(len(line) <= 80 for line in safe.stdout.splitlines())
    # CNI001 is critical: with --fail-on critical the break exits 1 ...
    trust = run("--inventory", str(inv), "--detach", f"payments-prod-vpc-cni:{CNI}")
    assert trust.exit_code == 1


def test_incomplete_inventory_exits_3(inv: Path) -> None:
    out = run(
        "--inventory",
        str(inv),
        "--detach",
        f"arn:aws:iam::111111111111:role/partner-prod-node:{CNI}",
    )
    assert out.exit_code == 3
    assert "UNKNOWN    partner-prod" in out.stdout


def test_terraform_plan_replace_is_judged_as_its_destroy(inv: Path, tmp_path: Path) -> None:
    plan = write(
        tmp_path / "plan.json",
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "aws_iam_role_policy_attachment.cni",
                    "type": "aws_iam_role_policy_attachment",
                    "change": {
                        "actions": ["delete", "create"],
                        "before": {"role": "payments-prod-vpc-cni", "policy_arn": CNI},
                        "after": {"role": "payments-prod-vpc-cni", "policy_arn": CNI},
                    },
                },
                {
                    "address": "aws_eks_addon.vpc_cni",
                    "type": "aws_eks_addon",
                    "change": {
                        "actions": ["update"],
                        "before": {
                            "cluster_name": "payments-prod",
                            "addon_name": "vpc-cni",
                            "service_account_role_arn": "arn:aws:iam::111111111111:role/x",
                        },
                        "after": {"cluster_name": "payments-prod", "addon_name": "vpc-cni"},
                        "after_unknown": {"service_account_role_arn": True},
                    },
                },
            ],
        },
    )
    out = run("--inventory", str(inv), "--terraform-plan", str(plan), "--format", "json")
    doc = json.loads(out.stdout)
    assert [(c["kind"], c["source"]) for c in doc["changes"]] == [
        (
            "detach_role_policy",
            f"{plan}: aws_iam_role_policy_attachment.cni (replace: judged as its destroy)",
        ),
        ("update_addon", f"{plan}: aws_eks_addon.vpc_cni"),
    ]
    assert doc["changes"][1]["role_arn"] == "(known after apply)"
    # the new role is unknown: the cluster cannot be promised safe
    assert [(c["cluster"], c["verdict"]) for c in doc["clusters"]] == [("payments-prod", "unknown")]
    assert out.exit_code == 3


@pytest.mark.parametrize("fmt", ["sarif", "junit", "csv", "markdown", "html"])
def test_other_formats_render_the_touched_findings(inv: Path, fmt: str) -> None:
    out = run("--inventory", str(inv), "--detach", f"checkout-prod-node:{CNI}", "--format", fmt)
    assert out.exit_code == 1
    assert "checkout-prod" in out.stdout
    assert "payments-prod" not in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--detach", "justarole"], "--detach expects ROLE:POLICY_ARN, got 'justarole'"),
        (
            ["--detach", "r:not-an-arn"],
            "--detach: 'not-an-arn' is not a policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)",
        ),
        (
            [],
            "name at least one change: --detach, --delete-inline, --delete-role, "
            "--delete-oidc-provider, --put-boundary, --remove-from-instance-profile, "
            "--terraform-plan or --calls",
        ),
    ],
)
def test_bad_flags_are_one_line_exit_2(inv: Path, args: list[str], message: str) -> None:
    out = run("--inventory", str(inv), *args)
    assert out.exit_code == 2
    assert out.stderr == f"cniguard: error: {message}\n"


def test_bad_calls_files_are_one_line_exit_2(inv: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[\n {"eventName": "DetachRolePolicy",\n oops}\n]\n', encoding="utf-8")
    out = run("--inventory", str(inv), "--calls", str(broken))
    assert (out.exit_code, out.stderr) == (
        2,
        f"cniguard: error: {broken}:3: not valid JSON: Expecting property name enclosed in "
        "double quotes\n",
    )
    unknown = write(tmp_path / "unknown.json", [{"eventName": "TerminateInstances"}])
    out = run("--inventory", str(inv), "--calls", str(unknown))
    assert out.exit_code == 2
    assert out.stderr.startswith(
        f"cniguard: error: {unknown}: call 1: unknown eventName 'TerminateInstances' "
        "(supported: AttachRolePolicy, DetachRolePolicy,"
    )
    missing = write(
        tmp_path / "missing.json", [{"eventName": "DeleteRole", "requestParameters": {}}]
    )
    out = run("--inventory", str(inv), "--calls", str(missing))
    assert out.stderr == (
        f"cniguard: error: {missing}: call 1 (DeleteRole): requestParameters lacks roleName\n"
    )


def test_eks_calls_accept_name_or_cluster_name(inv: Path, tmp_path: Path) -> None:
    calls = write(
        tmp_path / "calls.json",
        {
            "Records": [
                {
                    "eventName": "DeletePodIdentityAssociation",
                    "requestParameters": {
                        "name": "reporting-dev",
                        "associationId": "a-0abc1def2ghi3jkl4",
                    },
                }
            ]
        },
    )
    out = run("--inventory", str(inv), "--calls", str(calls), "--format", "json")
    doc = json.loads(out.stdout)
    assert [(c["cluster"], c["verdict"]) for c in doc["clusters"]] == [("reporting-dev", "breaks")]
