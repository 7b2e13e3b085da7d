"""Live collection end to end: boto3 over HTTP to moto and the wire-format fakes."""

from __future__ import annotations

import json
from pathlib import Path

from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from cniguard.model.inventory import Inventory, MetadataOptions, NodeGroup, Role
from fakes import fleet
from fakes.proxy import FakeAws, Faults

REGION = "us-east-1"
ACCOUNT = "123456789012"
KUBE_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kube"


def _options(**kwargs: object) -> LiveOptions:
    base: dict[str, object] = {"regions": (REGION,), "cloudtrail": False, "concurrency": 8}
    base.update(kwargs)
    return LiveOptions(**base)  # type: ignore[arg-type]


def _role(inv: Inventory, arn: str) -> Role:
    return next(r for r in inv.roles if r.arn == arn)


def test_one_account_collects_every_part(aws: FakeAws) -> None:
    acct = fleet.caller()
    built = fleet.cluster(
        aws, acct, REGION, "alpha", subnets=fleet.vpc_subnets(acct, REGION), karpenter=True
    )

    inv = collect_live(_options())

    assert inv.gaps == ()
    assert (inv.kind, inv.sources, inv.accounts, inv.regions) == (
        "live",
        ("aws",),
        (ACCOUNT,),
        (REGION,),
    )
    (cluster,) = inv.clusters
    assert (cluster.arn, cluster.version, cluster.ip_family, cluster.oidc_issuer) == (
        built.arn,
        "1.31",
        "ipv4",
        built.issuer,
    )
    assert cluster.tags == {"owner": "platform", "environment": "prod"}
    assert cluster.auto_mode is False
    assert cluster.fargate_profiles == ()
    assert cluster.pod_identity_associations == ()
    assert cluster.node_groups is not None
    managed, karpenter = cluster.node_groups
    assert (managed.name, managed.kind, managed.role_arn, managed.instance_count) == (
        "main",
        "managed",
        built.node_role,
        1,
    )
    assert (
        (managed.metadata_options.http_tokens, managed.metadata_options.hop_limit)
        == ("optional", 2)
        if managed.metadata_options
        else False
    )
    kp_role = f"arn:aws:iam::{ACCOUNT}:role/KarpenterNodeRole-alpha"
    assert karpenter == NodeGroup(
        name="default",
        kind="karpenter",
        role_arn=kp_role,
        os="linux",
        instance_count=2,
        metadata_options=MetadataOptions("required", 1, "enabled", karpenter.origin),
        origin=karpenter.origin,
    )
    assert [(a.name, a.service_account_role_arn) for a in cluster.addons or ()] == [
        ("coredns", None),
        ("vpc-cni", built.cni_role),
    ]
    assert [(e.principal_arn, e.type) for e in cluster.access_entries or ()] == [
        (kp_role, "EC2_LINUX")
    ]
    assert [r.arn for r in inv.roles] == sorted([kp_role, built.cni_role or "", built.node_role])
    node = _role(inv, built.node_role)
    assert node.exists and node.tags == {"owner": "platform"}
    assert [(p.name, p.kind, p.version) for p in node.policies or ()] == [
        ("AmazonEKSWorkerNodePolicy", "managed", "v3"),
        ("AmazonEKS_CNI_Policy", "managed", "v6"),
    ]
    cni_doc = (node.policies or ())[1].document
    assert isinstance(cni_doc, dict)
    assert "ec2:DescribeSecurityGroups" in cni_doc["Statement"][0]["Action"]
    assert node.trust_policy == fleet.EC2_TRUST
    assert [p.url for p in inv.oidc_providers] == [built.issuer.removeprefix("https://")]
    assert inv.oidc_providers_read == (ACCOUNT,)
    assert inv.meta["iam_strategy"] == {ACCOUNT: "GetAccountAuthorizationDetails"}
    assert inv.meta["api_calls"]["eks:DescribeCluster"] == 1
    assert inv.meta["api_calls"]["iam:GetPolicyVersion"] == 2  # two AWS policies, read once
    assert "iam:GetInstanceProfile" not in inv.meta["api_calls"]  # the bulk read names them


def test_missing_role_and_per_role_reads(aws: FakeAws) -> None:
    acct = fleet.caller()
    subnets = fleet.vpc_subnets(acct, REGION)
    fleet.cluster(aws, acct, REGION, "beta", subnets=subnets, irsa=False, instances=0)
    ghost = f"arn:aws:iam::{ACCOUNT}:role/deleted-node-role"
    acct.client("eks").create_nodegroup(
        clusterName="beta", nodegroupName="ghost", nodeRole=ghost, subnets=subnets
    )
    iam = acct.client("iam")
    iam.put_role_policy(
        RoleName="beta-node",
        PolicyName="extra",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Action": "ec2:CreateNetworkInterface", "Resource": "*"}
                ],
            }
        ),
    )
    aws.faults = Faults(deny_actions=frozenset({"iam:GetAccountSummary"}))

    inv = collect_live(_options())

    assert inv.gaps == ()
    assert inv.meta["iam_strategy"] == {ACCOUNT: "per-role"}
    assert _role(inv, ghost) == Role(
        arn=ghost,
        name="deleted-node-role",
        account=ACCOUNT,
        exists=False,
        origin=_role(inv, ghost).origin,
    )
    node = _role(inv, f"arn:aws:iam::{ACCOUNT}:role/beta-node")
    assert [(p.name, p.kind) for p in node.policies or ()] == [
        ("AmazonEKSWorkerNodePolicy", "managed"),
        ("AmazonEKS_CNI_Policy", "managed"),
        ("extra", "inline"),
    ]
    (cluster,) = inv.clusters
    assert [(g.name, g.role_arn, g.instance_count) for g in cluster.node_groups or ()] == [
        ("ghost", ghost, 0),
        ("main", f"arn:aws:iam::{ACCOUNT}:role/beta-node", 0),
    ]


def test_organization_accounts_are_entered(aws: FakeAws) -> None:
    (target,) = fleet.member_accounts(1)
    built = fleet.cluster(
        aws, target, "eu-west-1", "gamma", subnets=fleet.vpc_subnets(target, "eu-west-1")
    )

    inv = collect_live(_options(org=True, regions=("eu-west-1",)))

    assert inv.gaps == ()
    assert inv.accounts == tuple(sorted([ACCOUNT, target.account]))
    assert [(c.arn, c.account) for c in inv.clusters] == [(built.arn, target.account)]
    assert {r.account for r in inv.roles} == {target.account}
    assert _role(inv, built.node_role).exists
    assert inv.oidc_providers_read == inv.accounts

    only = collect_live(_options(org=True, regions=("eu-west-1",), accounts=(ACCOUNT,)))
    assert (only.accounts, only.clusters) == ((ACCOUNT,), ())


def test_kube_export_is_read_and_its_roles_followed(aws: FakeAws) -> None:
    acct = fleet.caller()
    fleet.cluster(aws, acct, REGION, "delta", subnets=fleet.vpc_subnets(acct, REGION))
    export = KUBE_FIXTURES / "healthy-irsa"

    inv = collect_live(_options(kube_exports=(("delta", str(export)),)))

    (cluster,) = inv.clusters
    assert inv.sources == ("aws", "k8s")
    assert cluster.kube is not None and cluster.kube.daemonsets is not None
    foreign = "arn:aws:iam::111122223333:role/AmazonEKSVPCCNIRole"  # the export's SA annotation
    assert [(g.what, g.account, g.region, g.cluster, g.resource) for g in inv.gaps] == [
        ("iam:role", "111122223333", None, None, foreign),
        ("k8s:aws-auth", ACCOUNT, REGION, cluster.arn, str(export)),  # no ConfigMap exported
    ]


def test_cloudtrail_events_in_window_at_the_allowed_rate(aws: FakeAws) -> None:
    acct = fleet.caller()
    fleet.cluster(aws, acct, "eu-west-1", "eps", subnets=fleet.vpc_subnets(acct, "eu-west-1"))
    fleet.detach_event(aws, ACCOUNT, "eps-node", days_ago=3)
    fleet.detach_event(aws, ACCOUNT, "eps-node", days_ago=120)  # outside the 90-day window

    inv = collect_live(_options(regions=("eu-west-1",), cloudtrail=True))

    assert inv.gaps == ()
    assert "cloudtrail" in inv.sources
    assert [
        (e.event_name, e.request_parameters, e.principal_arn) for e in inv.cloudtrail_events
    ] == [
        (
            "DetachRolePolicy",
            {"roleName": "eps-node", "policyArn": fleet.CNI_POLICY},
            f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/jane",
        )
    ]
    assert [(s.account, s.region) for s in inv.cloudtrail_scopes] == [
        (ACCOUNT, "eu-west-1"),
        (ACCOUNT, "us-east-1"),
    ]
    assert aws.state.rate_violations == []
    assert inv.meta["api_calls"]["cloudtrail:LookupEvents"] == 26
