"""`cniguard permissions` covers every AWS operation the collector can call: the declarations are
real botocore operations, a run that exercises every reader calls exactly the declared ones, and
the generated policy allows each of them."""

from __future__ import annotations

import json

import botocore.session
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.collect.aws.scope import NO_PERMISSION_NEEDED
from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from cniguard.collect.permissions import auditor_policy, cluster_role, declared_operations
from fakes import fleet
from fakes.proxy import FakeAws, Faults

SERVICES = {
    "eks": "eks",
    "iam": "iam",
    "ec2": "ec2",
    "sts": "sts",
    "organizations": "organizations",
    "cloudtrail": "cloudtrail",
}


def _allowed(policy: dict[str, object]) -> set[str]:
    actions: set[str] = set()
    for statement in policy["Statement"]:  # type: ignore[attr-defined]
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def test_declared_operations_exist_in_botocore() -> None:
    session = botocore.session.get_session()
    for action in declared_operations():
        prefix, name = action.split(":")
        assert name in session.get_service_model(SERVICES[prefix]).operation_names, action


def test_every_call_of_a_full_run_is_declared_and_allowed(aws: FakeAws) -> None:
    member = fleet.member_accounts(1)[0]
    built = fleet.cluster(
        aws,
        member,
        "eu-west-1",
        "perm",
        subnets=fleet.vpc_subnets(member, "eu-west-1"),
        karpenter=True,
    )
    eks = member.client("eks", "eu-west-1")
    eks.create_fargate_profile(
        fargateProfileName="fp",
        clusterName="perm",
        podExecutionRoleArn=built.node_role,
        selectors=[{"namespace": "batch"}],
    )
    aws.state.add_association(
        member.account,
        "eu-west-1",
        "perm",
        namespace="kube-system",
        service_account="aws-node",
        role_arn=built.cni_role or "",
    )
    iam = member.client("iam")
    iam.put_role_policy(
        RoleName="perm-node",
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    iam.put_role_permissions_boundary(RoleName="perm-cni", PermissionsBoundary=fleet.CNI_POLICY)
    # the bulk read is refused, so the per-role reads run too
    aws.faults = Faults(deny_actions=frozenset({"iam:GetAccountAuthorizationDetails"}))

    inv = collect_live(LiveOptions(org=True, cloudtrail=True, cloudtrail_days=1))

    called = set(inv.meta["api_calls"])
    assert called == set(declared_operations())
    assert called - NO_PERMISSION_NEEDED <= _allowed(
        auditor_policy("OrganizationAccountAccessRole")
    )
    (cluster,) = inv.clusters
    assert [
        (p.namespace, p.service_account, p.role_arn)
        for p in cluster.pod_identity_associations or ()
    ] == [("kube-system", "aws-node", built.cni_role)]
    assert [(f.name, f.pod_execution_role_arn) for f in cluster.fargate_profiles or ()] == [
        ("fp", built.node_role)
    ]
    cni = next(r for r in inv.roles if r.arn == built.cni_role)
    assert cni.permissions_boundary_arn == fleet.CNI_POLICY
    assert isinstance(cni.permissions_boundary, dict)


def test_permissions_command_prints_policy_and_cluster_role() -> None:
    result = CliRunner().invoke(app, ["permissions", "--org-role", "Audit"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    policy = document["iam_policy"]
    assert policy["Statement"][1] == {
        "Sid": "EnterMemberAccounts",
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": "arn:aws:iam::*:role/Audit",
    }
    assert _allowed(policy) == (set(declared_operations()) - NO_PERMISSION_NEEDED)
    assert document["kubernetes_cluster_role"] == cluster_role()
    verbs = {(r["resources"][0], tuple(r["verbs"])) for r in cluster_role()["rules"]}
    assert ("nodes", ("list",)) in verbs
