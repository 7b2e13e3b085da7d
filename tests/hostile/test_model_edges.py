"""Issue 15 item 8: at the edges of the model the verdict fails closed and says what it rests on.

The inventories are the core scenarios (one IRSA cluster whose aws-node pods run with the CNI
role) bent at one edge each.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cniguard.cli.common import exit_code
from cniguard.cli.main import app
from cniguard.collect.iac.scan import collect_iac
from cniguard.demo.builders import cni_managed, inline
from cniguard.engine import evaluate
from cniguard.model.inventory import Gap, Inventory
from core.scenarios import ACCOUNT, CLUSTER_ARN, REGION, cluster, cni_role, inventory, kube
from fakes.proxy import FakeAws

PODS_FORBIDDEN = Gap(
    what="k8s:pods",
    reason="Forbidden: pods is forbidden",
    account=ACCOUNT,
    region=REGION,
    cluster=CLUSTER_ARN,
)


def verdict(inv: Inventory) -> tuple[str, bool | None, str | None]:
    result = evaluate(inv).clusters[0]
    return result.cni_identity, result.compliant, result.basis


def test_unread_pods_do_not_let_a_lower_source_confirm_compliance() -> None:
    assert verdict(inventory()) == ("irsa", True, "pods")
    unread = inventory(clusters=(cluster(kube=kube(pods=None)),), gaps=(PODS_FORBIDDEN,))
    report = evaluate(unread)
    assert verdict(unread) == ("irsa", None, "service_account")
    assert report.clusters[0].reasons[-1] == (
        "the running aws-node pods were in scope but not read: what they run with decides, so "
        "compliance is not confirmed"
    )
    assert exit_code(report, None, fail_on_incomplete=True) == 3


def test_the_basis_says_when_kubernetes_was_not_in_scope() -> None:
    aws_only = inventory(clusters=(cluster(kube=None),), sources=("aws", "cloudtrail"))
    # without aws-auth, whether a node role also grants the actions stays unknown
    assert verdict(aws_only) == ("unknown", None, "aws_only")
    unreachable = replace(
        aws_only,
        gaps=(replace(PODS_FORBIDDEN, what="k8s", reason="cannot connect: timed out"),),
    )
    assert verdict(unreachable) == ("unknown", None, "addon")
    document = evaluate(aws_only).to_json()
    assert document["clusters"][0]["basis"] == "aws_only"


DENY_ALL_ENI = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "ec2:*NetworkInterface*"}],  # no Resource
}
ALLOW_NOTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Empty", "Effect": "Allow", "Resource": "*"}],  # no Action
}


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (DENY_ALL_ENI, "statement 1 has no Resource or NotResource; IAM rejects it"),
        (ALLOW_NOTHING, "statement Empty has no Action or NotAction; IAM rejects it"),
    ],
)
def test_a_statement_iam_would_reject_makes_the_grant_unknown(
    document: dict[str, object], problem: str
) -> None:
    role = cni_role(policies=(cni_managed(), inline("extra", document)))
    report = evaluate(inventory(roles=(role,)))
    assert (report.clusters[0].cni_identity, report.clusters[0].compliant) == ("unknown", None)
    finding = next(f for f in report.findings if f.rule_id == "CNI003")
    assert finding.status == "unknown"
    assert f"policy extra: {problem} (unparseable)" in finding.message


def test_fail_on_incomplete_exits_3_for_an_unknown_without_a_gap() -> None:
    role = cni_role(policies=(cni_managed(), inline("extra", DENY_ALL_ENI)))
    report = evaluate(inventory(roles=(role,)))
    assert report.coverage["gaps"] == []
    assert exit_code(report, None, fail_on_incomplete=False) == 0
    assert exit_code(report, None, fail_on_incomplete=True) == 3


def test_kube_export_for_a_cluster_outside_clusters_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["scan", "--clusters", "prod", "--kube-export", f"staging={tmp_path}"]
    )
    assert (result.exit_code, result.output) == (
        2,
        "cniguard: error: --kube-export/--kube-context name clusters not in --clusters: staging\n",
    )


@pytest.mark.timeout(120)
def test_kube_export_for_a_cluster_the_scan_did_not_find_is_a_usage_error(
    aws: FakeAws, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "scan",
            "--regions",
            "us-east-1",
            "--no-cloudtrail",
            "--quiet",
            "--kube-export",
            f"ghost={tmp_path}",
        ],
    )
    assert (result.exit_code, result.output) == (
        2,
        "cniguard: error: --kube-export/--kube-context name clusters that are not in scope: "
        "ghost (scanned: none)\n",
    )


def test_yaml_control_characters_are_a_gap_with_the_line(tmp_path: Path) -> None:
    (tmp_path / "sa.yaml").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: aws-node\n"
        '  annotations:\n    x: "a\x02b"\n'
    )
    (tmp_path / "stack.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  R:\n    Type: AWS::IAM::Role\n"
        "    Properties:\n      Description: \x1b[31m\n"
    )
    gaps = collect_iac([tmp_path]).gaps
    assert sorted((Path(g.resource or "").name, g.line, g.reason) for g in gaps) == [
        ("sa.yaml", 6, "syntax error: control character #x0002 is not allowed in YAML"),
        ("stack.yaml", 6, "syntax error: control character #x001b is not allowed in YAML"),
    ]


def test_scan_report_json_keeps_every_earlier_key() -> None:
    keys = set(json.loads(json.dumps(evaluate(inventory()).to_json()))["clusters"][0])
    assert keys == {
        "name",
        "arn",
        "account",
        "region",
        "environment",
        "production",
        "cni_identity",
        "compliant",
        "identity_role_arn",
        "reasons",
        "location",
        "basis",
    }
