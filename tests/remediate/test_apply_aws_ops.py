"""apply's AWS operations through boto3 against moto behind the proxy: each change lands, each
observation reads it back, and every call made is a declared one (the permissions meta-test)."""

from __future__ import annotations

import json

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.collect.permissions import write_policy, write_rbac
from cniguard.remediate.aws_ops import (
    EXTRA_ACTIONS,
    LOCK_TAG,
    NO_PERMISSION_NEEDED,
    AwsOps,
    Target,
    declared_actions,
    session_name,
)
from cniguard.remediate.kube_ops import VERIFY_AWS_ACTIONS, WRITE_RBAC
from cniguard.remediate.plan_model import Operation, canonical_document
from fakes.fleet import EC2_TRUST
from fakes.proxy import FakeAws, Faults

CNI = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789"
PROVIDER = (
    "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789"
)
TRUST = EC2_TRUST
PODS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}],
}
SERVICES = {"eks": "eks", "iam": "iam", "sts": "sts", "ec2": "ec2"}


def _cluster() -> Target:
    eks = boto3.client("eks", region_name="us-east-1")
    arn = eks.create_cluster(
        name="c1", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={}
    )["cluster"]["arn"]
    return Target("c1", arn, "us-east-1")


def _ops(target: Target) -> AwsOps:
    return AwsOps(boto3.Session(region_name="us-east-1"), target, "t1", sleep=lambda s: None)


def _allowed(policy: dict[str, object]) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:  # type: ignore[attr-defined]
        found.update(statement["Action"])
    return found


# moto lacks Add/RemoveClientIDFromOpenIDConnectProvider: those two are not exercised here.
IAM_SEQUENCE = [
    (
        Operation(
            "iam:CreateOpenIDConnectProvider",
            {
                "Url": ISSUER,
                "ClientIDList": ["sts.amazonaws.com"],
                "Tags": [{"Key": "created-by", "Value": "cniguard"}],
            },
            {"arn": PROVIDER},
        ),
        {"provider_exists": True},
    ),
    (
        Operation(
            "iam:CreateRole",
            {
                "RoleName": "r1",
                "AssumeRolePolicyDocument": json.dumps(TRUST),
                "Tags": [{"Key": "created-by", "Value": "cniguard"}],
            },
        ),
        {"role_exists": True},
    ),
    (
        Operation(
            "iam:UpdateAssumeRolePolicy",
            {"RoleName": "r1", "PolicyDocument": json.dumps(PODS_TRUST)},
        ),
        {"trust": canonical_document(PODS_TRUST)},
    ),
    (
        Operation(
            "iam:CreatePolicy",
            {
                "PolicyName": "AmazonEKS_CNI_IPv6_Policy",
                "PolicyDocument": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "ec2:AssignIpv6Addresses",
                                "Resource": "*",
                            }
                        ],
                    }
                ),
            },
            {"arn": "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy"},
        ),
        {"policy_exists": True},
    ),
    (Operation("iam:AttachRolePolicy", {"RoleName": "r1", "PolicyArn": CNI}), {"attached": True}),
    (
        Operation(
            "iam:PutRolePolicy",
            {
                "RoleName": "r1",
                "PolicyName": "cni",
                "PolicyDocument": json.dumps(INLINE),
            },
        ),
        {"inline_document": canonical_document(INLINE)},
    ),
    (
        Operation("iam:DeleteRolePolicy", {"RoleName": "r1", "PolicyName": "cni"}),
        {"inline_document": None},
    ),
    (Operation("iam:DetachRolePolicy", {"RoleName": "r1", "PolicyArn": CNI}), {"attached": False}),
    (
        Operation(
            "iam:DeletePolicy",
            {"PolicyArn": "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy"},
        ),
        {"policy_exists": False},
    ),
    (Operation("iam:DeleteRole", {"RoleName": "r1"}), {"role_exists": False}),
    (
        Operation("iam:DeleteOpenIDConnectProvider", {"OpenIDConnectProviderArn": PROVIDER}),
        {"provider_exists": False},
    ),
]


def test_every_iam_change_is_observed_back_and_every_call_is_declared(aws: FakeAws) -> None:
    ops = _ops(_cluster())
    seen = []
    for op, _ in IAM_SEQUENCE:
        ops.execute(op)
        seen.append(ops.observe(op))
    assert seen == [after for _, after in IAM_SEQUENCE]
    # a missing role reads as "nothing attached", a missing provider as "no client ids"
    assert ops.observe(Operation("iam:AttachRolePolicy", {"RoleName": "r1", "PolicyArn": CNI})) == {
        "attached": False
    }
    client = Operation(
        "iam:AddClientIDToOpenIDConnectProvider",
        {"OpenIDConnectProviderArn": PROVIDER, "ClientID": "x.example"},
    )
    assert ops.observe(client) == {"client_ids": None}
    ops.take_lock("t1")
    assert ops.lock_holder() == "t1"
    ops.release_lock()
    assert ops.lock_holder() is None
    assert ops.caller_account() == "123456789012"
    assert set(ops.calls) <= declared_actions()
    assert set(ops.calls) - NO_PERMISSION_NEEDED <= _allowed(write_policy())


def test_declared_actions_are_real_operations_and_the_write_policy_covers_them() -> None:
    session = botocore.session.get_session()
    extra = {a for actions in EXTRA_ACTIONS.values() for a in actions}
    for action in declared_actions() | set(VERIFY_AWS_ACTIONS):
        prefix, name = action.split(":")
        if action in extra - {"iam:GetRole"}:
            continue  # authorized by AWS alongside another call: no API of its own is called
        assert name in session.get_service_model(SERVICES[prefix]).operation_names, action
    allowed = _allowed(write_policy())
    wanted = (declared_actions() | set(VERIFY_AWS_ACTIONS)) - NO_PERMISSION_NEEDED
    assert wanted - allowed == {"sts:AssumeRole"}  # the --assume-role hop: the caller's own


def test_throttling_is_retried_and_access_denied_is_not(aws: FakeAws) -> None:
    ops = _ops(_cluster())
    aws.faults = Faults(throttle_rate=1.0, max_faults_per_request=2)
    ops.execute(IAM_SEQUENCE[1][0])
    assert ops.observe(IAM_SEQUENCE[1][0]) == {"role_exists": True}
    assert aws.traffic.injected["throttle"] >= 2

    aws.faults = Faults(deny_actions=frozenset({"iam:AttachRolePolicy"}))
    with pytest.raises(ClientError) as caught:
        ops.execute(IAM_SEQUENCE[4][0])
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert aws.traffic.calls["iam:AttachRolePolicy"] == 1


def test_the_user_agent_and_the_session_name_name_cniguard(aws: FakeAws) -> None:
    ops = _ops(_cluster())
    agent = ops.iam.meta.config.user_agent_extra  # type: ignore[attr-defined]
    assert agent == "cniguard/0.1.0 apply/t1"
    assert session_name("t1") == "cniguard-apply-t1"
    assert ops.lock_holder() is None and LOCK_TAG == "cniguard.io/apply-lock"


def test_permissions_write_prints_the_policy_and_the_rbac() -> None:
    result = CliRunner().invoke(app, ["permissions", "--write", "--role-prefix", "Cni-"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    own = document["iam_policy"]["Statement"][0]
    assert own["Sid"] == "CniguardApplyOwnRole"
    assert own["Resource"] == "arn:aws:iam::*:role/Cni-*"
    assert "iam:PassRole" in own["Action"]
    assert document["kubernetes_rbac"] == write_rbac()
    kinds = [(d["kind"], d["metadata"].get("namespace")) for d in write_rbac()]
    assert kinds == [("ClusterRole", None), ("Role", "kube-system")]
    verbs = {(r["resources"][0], v) for d in write_rbac() for r in d["rules"] for v in r["verbs"]}
    declared = {(r["resources"][0], v) for r in WRITE_RBAC for v in r["verbs"]}
    assert verbs == declared
    assert ("daemonsets", "patch") in verbs and ("serviceaccounts", "patch") in verbs
