"""The test oracle against moto's IAM: the verdicts the simulated cluster relies on."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from fakes.cni_oracle import IPV4_ACTIONS, Context, Identity, Verdict, judge
from fakes.proxy import FakeAws

ACCOUNT = "123456789012"
HOST = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
CTX = Context(ACCOUNT, "us-east-1", f"https://{HOST}")
CNI_POLICY = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
SUB = "system:serviceaccount:kube-system:aws-node"
NOT_TRUSTED = (
    f"the trust policy does not let {SUB} (aud sts.amazonaws.com) call "
    "sts:AssumeRoleWithWebIdentity"
)


def irsa_trust(
    operator: str = "StringEquals", sub: str = SUB, aud: str = "sts.amazonaws.com"
) -> Any:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {operator: {f"{HOST}:sub": sub, f"{HOST}:aud": aud}},
            }
        ],
    }


POD_IDENTITY_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def statement(effect: str, actions: Any, resource: Any = "*", key: str = "Action") -> Any:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, key: actions, "Resource": resource}],
    }


def make_role(
    name: str,
    trust: Any,
    *,
    managed: tuple[str, ...] = (),
    inline: tuple[Any, ...] = (),
    boundary: Any = None,
) -> tuple[Any, str]:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    if boundary is not None:
        arn = iam.create_policy(PolicyName=f"{name}-boundary", PolicyDocument=json.dumps(boundary))[
            "Policy"
        ]["Arn"]
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=arn)
    for policy in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    for i, document in enumerate(inline):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=json.dumps(document))
    return iam, role["Role"]["Arn"]


def oidc_provider(client_ids: tuple[str, ...] = ("sts.amazonaws.com",)) -> None:
    boto3.client("iam").create_open_id_connect_provider(
        Url=f"https://{HOST}", ClientIDList=list(client_ids), ThumbprintList=["9" * 40]
    )


def test_node_role_with_the_managed_cni_policy_works(aws: FakeAws) -> None:
    iam, arn = make_role("node", EC2_TRUST, managed=(CNI_POLICY,))
    assert judge(iam, Identity("node", arn), CTX) == Verdict(True, "", ())


def test_node_role_without_it_misses_every_eni_action(aws: FakeAws) -> None:
    iam, arn = make_role(
        "node", EC2_TRUST, managed=("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",)
    )
    verdict = judge(iam, Identity("node", arn), CTX)
    # the worker node policy grants ec2:DescribeInstances, not the ENI calls
    assert verdict == Verdict(True, "", IPV4_ACTIONS[1:])


def test_ipv6_needs_assign_ipv6_addresses(aws: FakeAws) -> None:
    iam, arn = make_role("node", EC2_TRUST, managed=(CNI_POLICY,))
    ipv6 = Context(ACCOUNT, "us-east-1", f"https://{HOST}", "ipv6")
    assert judge(iam, Identity("node", arn), ipv6).missing == ("ec2:AssignIpv6Addresses",)


@pytest.mark.parametrize(
    ("documents", "missing"),
    [
        # an explicit Deny wins, even against the managed policy
        ((statement("Deny", "ec2:CreateNetworkInterface"),), ("ec2:CreateNetworkInterface",)),
        (
            (statement("Deny", "EC2:*networkinterface*"),),
            tuple(a for a in IPV4_ACTIONS if "NetworkInterface" in a),
        ),
        (
            (statement("Deny", ["ec2:Describe*", "sts:*"], key="NotAction"),),
            tuple(a for a in IPV4_ACTIONS if not a.startswith("ec2:Describe")),
        ),
    ],
)
def test_deny_statements_win(
    aws: FakeAws, documents: tuple[Any, ...], missing: tuple[str, ...]
) -> None:
    iam, arn = make_role("node", EC2_TRUST, managed=(CNI_POLICY,), inline=documents)
    assert judge(iam, Identity("node", arn), CTX).missing == missing


def test_wildcards_and_resources_of_inline_policies(aws: FakeAws) -> None:
    eni = "arn:aws:ec2:*:*:network-interface/*"
    documents = (
        statement("Allow", ["ec2:Describe*"]),
        statement("Allow", ["ec2:*PrivateIp*", "ec2:DeleteNetworkInterface"], eni),
        # Create also touches subnets and security groups; Attach/Detach also the instance
        statement(
            "Allow",
            [
                "ec2:CreateNetworkInterface",
                "ec2:AttachNetworkInterface",
                "ec2:DetachNetworkInterface",
            ],
            eni,
        ),
    )
    iam, arn = make_role("node", EC2_TRUST, inline=documents)
    assert judge(iam, Identity("node", arn), CTX).missing == (
        "ec2:CreateNetworkInterface",
        "ec2:AttachNetworkInterface",
        "ec2:DetachNetworkInterface",
    )


def test_a_boundary_must_allow_too(aws: FakeAws) -> None:
    boundary = statement("Allow", ["ec2:Describe*", "ec2:*NetworkInterface"])
    iam, arn = make_role("node", EC2_TRUST, managed=(CNI_POLICY,), boundary=boundary)
    assert judge(iam, Identity("node", arn), CTX).missing == (
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    )


@pytest.mark.parametrize(
    ("trust", "provider", "audience", "reason"),
    [
        (irsa_trust(), ("sts.amazonaws.com",), "sts.amazonaws.com", ""),
        (
            irsa_trust("StringLike", "system:serviceaccount:kube-system:*"),
            ("sts.amazonaws.com",),
            "sts.amazonaws.com",
            "",
        ),
        (
            irsa_trust(sub="system:serviceaccount:kube-system:aws-cni"),
            ("sts.amazonaws.com",),
            "sts.amazonaws.com",
            NOT_TRUSTED,
        ),
        # the misconfiguration seen in the wild: the subject under :aud
        (
            irsa_trust(aud=SUB),
            ("sts.amazonaws.com",),
            "sts.amazonaws.com",
            NOT_TRUSTED,
        ),
        (irsa_trust(), None, "sts.amazonaws.com", f"no IAM OIDC provider for {HOST}"),
        (
            irsa_trust(),
            ("other",),
            "sts.amazonaws.com",
            "the OIDC provider does not list the client id sts.amazonaws.com",
        ),
        (
            EC2_TRUST,
            ("sts.amazonaws.com",),
            "sts.amazonaws.com",
            NOT_TRUSTED,
        ),
    ],
)
def test_irsa_credentials(
    aws: FakeAws, trust: Any, provider: tuple[str, ...] | None, audience: str, reason: str
) -> None:
    if provider is not None:
        oidc_provider(provider)
    iam, arn = make_role("cni", trust, managed=(CNI_POLICY,))
    verdict = judge(iam, Identity("irsa", arn, audience=audience), CTX)
    assert (verdict.credentials, verdict.reason, verdict.works) == (not reason, reason, not reason)


def test_pod_identity_credentials_need_the_agent_and_both_actions(aws: FakeAws) -> None:
    iam, arn = make_role("cni", POD_IDENTITY_TRUST, managed=(CNI_POLICY,))
    with_agent = Context(ACCOUNT, "us-east-1", f"https://{HOST}", pod_identity_agent=True)
    assert judge(iam, Identity("pod-identity", arn), with_agent).works
    assert judge(iam, Identity("pod-identity", arn), CTX).reason == (
        "the eks-pod-identity-agent add-on is not installed"
    )
    only_assume = json.loads(json.dumps(POD_IDENTITY_TRUST))
    only_assume["Statement"][0]["Action"] = "sts:AssumeRole"
    iam.update_assume_role_policy(RoleName="cni", PolicyDocument=json.dumps(only_assume))
    assert judge(iam, Identity("pod-identity", arn), with_agent).reason == (
        "the trust policy does not let pods.eks.amazonaws.com call sts:TagSession"
    )


PROD = f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/prod"
SESSION_TAG_CONDITIONS: list[tuple[dict[str, Any], bool]] = [
    (
        {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-arn": PROD,
                "aws:RequestTag/kubernetes-namespace": "kube-system",
                "aws:RequestTag/kubernetes-service-account": "aws-node",
            }
        },
        True,
    ),
    ({"StringEquals": {"aws:RequestTag/eks-cluster-name": "prod"}}, True),
    ({"StringEquals": {"aws:RequestTag/eks-cluster-arn": PROD.replace("prod", "dev")}}, False),
    ({"StringEquals": {"aws:RequestTag/kubernetes-namespace": "default"}}, False),
    ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, True),
    # not documented for Pod Identity: not understood, so the Allow counts for nothing
    ({"ArnEquals": {"aws:SourceArn": PROD}}, False),
]


def test_pod_identity_trust_conditions_see_the_session_tags_eks_sets(aws: FakeAws) -> None:
    iam, arn = make_role("cni", POD_IDENTITY_TRUST, managed=(CNI_POLICY,))
    ctx = Context(
        ACCOUNT, "us-east-1", f"https://{HOST}", pod_identity_agent=True, cluster_name="prod"
    )
    denied = "the trust policy does not let pods.eks.amazonaws.com call sts:AssumeRole"
    judged = []
    for condition, _ in SESSION_TAG_CONDITIONS:
        trust = json.loads(json.dumps(POD_IDENTITY_TRUST))
        trust["Statement"][0]["Condition"] = condition
        iam.update_assume_role_policy(RoleName="cni", PolicyDocument=json.dumps(trust))
        verdict = judge(iam, Identity("pod-identity", arn), ctx)
        judged.append((verdict.works, "" if verdict.works else verdict.reason))
    assert judged == [(works, "" if works else denied) for _, works in SESSION_TAG_CONDITIONS]


def test_a_missing_role_gives_no_credentials(aws: FakeAws) -> None:
    iam = boto3.client("iam")
    arn = f"arn:aws:iam::{ACCOUNT}:role/gone"
    assert judge(iam, Identity("node", arn), CTX) == Verdict(
        False, f"role {arn} does not exist", ()
    )
