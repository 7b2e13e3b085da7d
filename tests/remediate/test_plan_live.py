"""`cniguard plan` end to end: boto3 over HTTP to moto and the EKS fakes, Kubernetes from an
export, every format through the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app
from fakes import fleet
from fakes.proxy import FakeAws

REGION = "us-east-1"
EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "kube" / "healthy-irsa"
IRSA_ENV = ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


def node_role_export(tmp_path: Path) -> Path:
    """The healthy IRSA export with the annotation and the injected env removed: aws-node on the
    node role, as on a cluster that never moved."""
    out = tmp_path / "export"
    shutil.copytree(EXPORT, out)
    map_roles = (
        "- rolearn: arn:aws:iam::123456789012:role/alpha-node\n"
        "  username: system:node:{{EC2PrivateDNSName}}\n"
        "  groups:\n  - system:bootstrappers\n  - system:nodes\n"
    )
    aws_auth = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": map_roles},
    }
    (out / "aws-auth.json").write_text(json.dumps(aws_auth))
    accounts = json.loads((out / "serviceaccounts.json").read_text())
    for sa in accounts["items"]:
        sa["metadata"].get("annotations", {}).pop("eks.amazonaws.com/role-arn", None)
    (out / "serviceaccounts.json").write_text(json.dumps(accounts))
    pods = json.loads((out / "pods.json").read_text())
    for pod in pods["items"]:
        for container in pod["spec"]["containers"]:
            container["env"] = [e for e in container.get("env", []) if e["name"] not in IRSA_ENV]
    (out / "pods.json").write_text(json.dumps(pods))
    return out


def _fleet(aws: FakeAws) -> fleet.BuiltCluster:
    """alpha: aws-node on its node role (CNI policy), a Karpenter role with the CNI policy too;
    beta: another cluster whose managed node group runs with alpha's node role."""
    acct = fleet.caller()
    subnets = fleet.vpc_subnets(acct, REGION)
    alpha = fleet.cluster(aws, acct, REGION, "alpha", subnets=subnets, irsa=False, karpenter=True)
    fleet.cluster(aws, acct, REGION, "beta", subnets=subnets, irsa=False)
    acct.client("eks", REGION).create_nodegroup(
        clusterName="beta", nodegroupName="shared", nodeRole=alpha.node_role, subnets=subnets
    )
    return alpha


def _plan(tmp_path: Path, *args: str) -> tuple[int, str]:
    export = node_role_export(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "--cluster",
            "alpha",
            "--no-cloudtrail",
            "-q",
            "--kube-export",
            f"alpha={export}",
            *args,
        ],
    )
    return result.exit_code, result.stdout


def test_live_plan_orders_every_step_and_blocks_the_shared_role(
    aws: FakeAws, tmp_path: Path
) -> None:
    alpha = _fleet(aws)
    code, out = _plan(tmp_path, "--format", "json")
    plan = json.loads(out)
    assert plan["schema"] == "cniguard.plan/v1"
    (cp,) = plan["clusters"]
    assert (cp["cluster"], cp["mode"], cp["target"], cp["status"]) == (
        "alpha",
        "node_role",
        "irsa",
        "blocked",
    )
    assert [s["id"] for s in cp["steps"]] == [
        "oidc-provider",
        "create-role",
        "attach-policy",
        "bind",
        "restart-aws-node",
        "check-aws-node",
        "verify-network",
        "detach-alpha-node-AmazonEKS_CNI_Policy",
        "detach-KarpenterNodeRole-alpha-AmazonEKS_CNI_Policy",
        "verify-after",
    ]
    steps = {s["id"]: s for s in cp["steps"]}
    assert steps["oidc-provider"]["kind"] == "check"  # the fleet made the provider
    assert steps["bind"]["action"]["op"] == "eks:UpdateAddon"
    shared = steps["detach-alpha-node-AmazonEKS_CNI_Policy"]["blocked_by"]
    # beta was read, but without Kubernetes data its mode is unknown: it may depend on the role
    assert any("also used by beta" in b and "mode unknown" in b for b in shared)
    assert steps["detach-KarpenterNodeRole-alpha-AmazonEKS_CNI_Policy"]["blocked_by"] == []
    assert code == 1  # blocked
    assert alpha.node_role.endswith("role/alpha-node")


def test_live_plan_formats(aws: FakeAws, tmp_path: Path) -> None:
    _fleet(aws)
    code, text = _plan(tmp_path)
    assert code == 1
    assert text.splitlines()[0] == "alpha  (123456789012 us-east-1)  node_role -> irsa: BLOCKED"
    # 80 columns, except where one ARN alone is longer (it is never broken: it must paste)
    long = [line.strip() for line in text.splitlines()[:-1] if len(line) > 80]
    assert all(" " not in line.split(":  ")[-1].strip() for line in long), long
    script = tmp_path / "plan.sh"
    code, _ = _plan(tmp_path / "sh", "--format", "sh", "-o", str(script))
    assert code == 1 and script.stat().st_mode & 0o111
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    lines = script.read_text().splitlines()
    assert lines[3] == "set -euo pipefail"
    assert lines.index("echo '>> alpha: bind'") < lines.index("echo '>> alpha: restart-aws-node'")
    assert "exit 3" in lines[-2]  # stops before the blocked detach
    tf = tmp_path / "plan.tf"
    code, _ = _plan(tmp_path / "tf", "--format", "terraform", "-o", str(tf))
    parsed = hcl2.loads(tf.read_text())
    resources = {next(iter(r)).strip('"') for r in parsed["resource"]}
    assert resources == {"aws_iam_role", "aws_iam_role_policy_attachment", "aws_eks_addon"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster", "nope"], "cniguard: error: no cluster 'nope' in the inventory"),
        (["--cluster", "alpha", "--role-name", "a/b"], "--role-name must be a role name"),
    ],
)
def test_plan_input_errors(tmp_path: Path, args: list[str], message: str) -> None:
    from cniguard.demo import build_fleet
    from cniguard.model.codec import save_inventory

    inv = tmp_path / "inv.json"
    save_inventory(build_fleet(), inv)
    result = CliRunner().invoke(app, ["plan", "--inventory", str(inv), *args])
    assert result.exit_code == 2
    assert message in result.stderr
