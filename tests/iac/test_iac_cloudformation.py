"""CloudFormation / CDK templates into the inventory model, with exact objects and lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.cloudformation import collect_cloudformation
from cniguard.collect.iac.cloudformation.intrinsics import Evaluator, Undecided
from cniguard.model.common import Origin
from cniguard.model.inventory import Gap, MetadataOptions, NodeGroup

FIXTURES = Path("tests/fixtures/iac/cloudformation")
NODEGROUP = str(FIXTURES / "amazon-eks-nodegroup.yaml")
IRSA = str(FIXTURES / "irsa-cluster.yaml")
CDK = str(FIXTURES / "cdk-synth.template.json")


def _origin(file: str, line: int | None) -> Origin:
    return Origin(source="iac", file=file, line=line)


def test_self_managed_template_gives_node_group_role_and_launch_template_imds() -> None:
    out = collect_cloudformation([Path(NODEGROUP)])
    (cluster,) = out.clusters
    assert cluster.arn == f"cfn:{NODEGROUP}#legacy-prod"
    assert cluster.addons is None and cluster.oidc_issuer is None  # defined elsewhere: unknown
    assert cluster.node_groups == (
        NodeGroup(
            name="amazon-eks-nodegroup-NodeGroup",
            kind="self_managed",
            role_arn="arn:aws:iam::${account}:role/amazon-eks-nodegroup-NodeInstanceRole",
            metadata_options=MetadataOptions(
                http_tokens="optional",
                hop_limit=2,
                http_endpoint="enabled",
                origin=_origin(NODEGROUP, 57),
            ),
            instance_count=3,
            origin=_origin(NODEGROUP, 70),
        ),
    )
    (role,) = out.roles
    assert [(p.arn, p.version, p.origin.line if p.origin else 0) for p in role.policies or ()] == [
        ("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "v3", 45),
        ("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy", "v6", 46),
        ("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly", "v3", 47),
    ]
    assert role.trust_policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }
    assert out.gaps == [
        Gap(
            what="iac:cluster",
            cluster=f"cfn:{NODEGROUP}#legacy-prod",
            resource=NODEGROUP,
            line=70,
            reason="cluster legacy-prod is not defined in the scanned files: its add-ons, pod "
            "identity associations, access entries and OIDC issuer are unknown",
        )
    ]


def test_irsa_template_issuer_provider_and_trust_line_up() -> None:
    out = collect_cloudformation([Path(IRSA)])
    (cluster,) = out.clusters
    issuer = synthetic.issuer_url(f"cfn:{IRSA}#Cluster")
    host = issuer.removeprefix("https://")
    assert (
        cluster.name,
        cluster.oidc_issuer,
        cluster.ip_family,
        cluster.authentication_mode,
        cluster.version,
    ) == ("orders", issuer, "ipv4", "API", "1.31")
    assert [(p.url, p.client_ids, p.origin) for p in out.oidc_providers] == [
        (host, ("sts.amazonaws.com",), _origin(IRSA, 30))
    ]
    assert [(a.name, a.service_account_role_arn) for a in cluster.addons or ()] == [
        ("vpc-cni", "arn:aws:iam::${account}:role/orders-vpc-cni")
    ]
    cni = next(r for r in out.roles if r.name == "orders-vpc-cni")
    assert isinstance(cni.trust_policy, str)
    assert f'"arn:aws:iam::${{account}}:oidc-provider/{host}"' in cni.trust_policy
    assert f'"{host}:sub": "system:serviceaccount:kube-system:aws-node"' in cni.trust_policy
    assert [
        (g.name, g.kind, g.ami_type, g.metadata_options) for g in cluster.node_groups or ()
    ] == [
        (
            "general",
            "managed",
            "AL2023_x86_64_STANDARD",
            # no launch template: EKS's own, hop limit 2; IMDSv1 depends on the AMI: unknown
            MetadataOptions(http_endpoint="enabled", hop_limit=2, origin=_origin(IRSA, 95)),
        )
    ]
    assert out.gaps == []


def test_cdk_synth_output_resolves_join_partition_arns_and_custom_cluster() -> None:
    out = collect_cloudformation([Path(CDK)])
    (cluster,) = out.clusters
    assert (cluster.name, cluster.version, cluster.authentication_mode) == (
        "analytics",
        "1.31",
        "API_AND_CONFIG_MAP",
    )
    (group,) = cluster.node_groups or ()
    role = next(r for r in out.roles if r.arn == group.role_arn)
    assert [p.arn for p in role.policies or ()] == [
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    ]
    assert group.origin == _origin(CDK, 35)


def test_syntax_error_is_a_gap_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties: [\n")
    out = collect_cloudformation([bad])
    assert out.clusters == [] and out.files_read == []
    assert [(g.what, g.resource, g.line) for g in out.gaps] == [("iac:parse", str(bad), 5)]


def _ev(
    params: dict[str, Any] | None = None, conditions: dict[str, Any] | None = None
) -> Evaluator:
    return Evaluator(
        params or {},
        {"M": {"aws": {"P": "ec2.amazonaws.com"}}},
        lambda lid: "role-name" if lid == "Role" else None,
        lambda lid, att: f"arn:{lid}" if att == "Arn" else None,
        conditions,
        lambda name: "value" if name == "exported" else None,
    )


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/X"}, "arn:aws:iam::aws:policy/X"),
        ({"Fn::Sub": ["${A}-${Role.Arn}-${!Lit}", {"A": "a"}]}, "a-arn:Role-${Lit}"),
        ({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":x"]]}, "arn:aws:x"),
        ({"Fn::Select": [1, {"Fn::Split": ["//", "https://host/id/1"]}]}, "host/id/1"),
        ({"Fn::FindInMap": ["M", {"Ref": "AWS::Partition"}, "P"]}, "ec2.amazonaws.com"),
        ({"Ref": "NoDefault"}, "${NoDefault}"),
        ({"Ref": "WithDefault"}, "d"),
        ({"Ref": "Role"}, "role-name"),
        ({"Fn::GetAtt": "Other.Endpoint"}, "${Other.Endpoint}"),
        ({"Fn::ImportValue": "shared-role"}, "${ImportValue shared-role}"),
        (["a", {"Fn::If": ["C", "b", {"Ref": "AWS::NoValue"}]}], ["a", "b"]),
        (["a", {"Fn::If": ["Never", "b", "c"]}], ["a", "b", "c"]),
        ({"Fn::If": ["Never", "b", "c"]}, "c"),
        ({"Fn::If": ["Unknowable", "b", "c"]}, Undecided("Unknowable", ("b", "c"))),
        ({"Fn::If": ["Unknowable", "b", "b"]}, "b"),
        ({"Fn::If": ["Unknowable", ["b"], {"Ref": "AWS::NoValue"}]}, ["b"]),
        (
            {"Fn::Sub": ["x-${V}", {"V": {"Fn::If": ["Unknowable", "b", "c"]}}]},
            "x-${Fn::If Unknowable}",
        ),
        ({"Fn::ImportValue": "exported"}, "value"),
    ],
)
def test_intrinsics(node: Any, expected: Any) -> None:
    ev = _ev(
        {"NoDefault": {"Type": "String"}, "WithDefault": {"Type": "String", "Default": "d"}},
        {
            "Never": {"Fn::Equals": [{"Ref": "WithDefault"}, "x"]},
            "Unknowable": {"Fn::Equals": [{"Ref": "NoDefault"}, "x"]},
        },
    )
    assert ev.value(node) == expected
