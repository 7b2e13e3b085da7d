"""Each rule: a good inventory where it passes and bad ones where it fails, with exact findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from cniguard.demo.builders import (
    CNI_IPV6_POLICY_DOC,
    irsa_trust,
    managed,
    node_group,
    provider,
    vpc_cni,
)
from cniguard.engine import evaluate
from cniguard.model.inventory import CloudTrailEvent, Gap, Inventory, MetadataOptions
from cniguard.rules import RULES
from core.scenarios import (
    ACCOUNT,
    CLUSTER_ARN,
    CNI_ROLE,
    NODE_ROLE,
    REGION,
    cluster,
    cni_managed,
    cni_role,
    inline,
    inventory,
    kube,
    node_role,
    outage,
    pod_identity_cluster,
)

DS = f"{CLUSTER_ARN}/kube-system/daemonset/aws-node"
ISSUER_HOST = "oidc.eks.us-east-1.amazonaws.com/id/5A1B2C3D4E5F60718293A4B5C6D7E8F9"
Row = tuple[str, str, str, str]  # rule, status, resource, severity


def not_passing(inv: Inventory) -> set[Row]:
    report = evaluate(inv)
    return {
        (f.rule_id, f.status, f.resource, f.severity) for f in report.findings if f.status != "pass"
    }


def test_good_cluster_passes_every_rule() -> None:
    report = evaluate(inventory())
    assert {f.status for f in report.findings} == {"pass"}
    assert sorted({f.rule_id for f in report.findings}) == sorted(
        r.id
        for r in RULES
        if r.id != "CNI011"  # CNI011 only concerns clusters on the node role
    )
    assert report.clusters[0].cni_identity == "irsa"
    assert report.clusters[0].compliant is True


def test_pod_identity_cluster_passes() -> None:
    report = evaluate(pod_identity_cluster())
    assert [f for f in report.findings if f.status != "pass"] == []
    assert (report.clusters[0].cni_identity, report.clusters[0].compliant) == ("pod_identity", True)


def ipv6_policy() -> object:
    return managed("AmazonEKS_CNI_IPv6_Policy", CNI_IPV6_POLICY_DOC, account=ACCOUNT)


CASES: dict[str, tuple[Callable[[], Inventory], set[Row]]] = {
    "CNI001 node role lacks permissions, no dedicated identity": (
        lambda: inventory(
            clusters=(cluster(addons=(vpc_cni(None),), kube=kube(env=(), sa_role=None)),),
            roles=(node_role(),),
        ),
        {("CNI001", "fail", NODE_ROLE, "critical")},
    ),
    "CNI002 managed policy on the node role, IMDSv2 hop 1": (
        lambda: inventory(roles=(node_role(cni_managed()), cni_role())),
        {("CNI002", "fail", NODE_ROLE, "high")},
    ),
    "CNI002 ec2:* inline on the node role, IMDSv1 reachable -> critical": (
        lambda: inventory(
            clusters=(cluster(node_groups=(node_group("ng", NODE_ROLE, tokens="optional"),)),),
            roles=(
                node_role(
                    inline(
                        "all-ec2",
                        {"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]},
                    )
                ),
                cni_role(),
            ),
        ),
        {("CNI002", "fail", NODE_ROLE, "critical")},
    ),
    "CNI002 hop limit 2 -> critical": (
        lambda: inventory(
            clusters=(cluster(node_groups=(node_group("ng", NODE_ROLE, hop=2),)),),
            roles=(node_role(cni_managed()), cni_role()),
        ),
        {("CNI002", "fail", NODE_ROLE, "critical")},
    ),
    "CNI003 IPv6 cluster with the IPv4 policy": (
        lambda: inventory(clusters=(cluster(ip_family="ipv6"),)),
        {("CNI001", "fail", CNI_ROLE, "critical"), ("CNI003", "fail", CNI_ROLE, "high")},
    ),
    "CNI003 IPv4 cluster with only the IPv6 policy": (
        lambda: inventory(roles=(node_role(), cni_role(policies=(ipv6_policy(),)))),
        {("CNI001", "fail", CNI_ROLE, "critical"), ("CNI003", "fail", CNI_ROLE, "high")},
    ),
    "CNI004 explicit Deny on the CNI role": (
        lambda: inventory(
            roles=(
                node_role(),
                cni_role(
                    policies=(
                        cni_managed(),
                        inline(
                            "deny",
                            {
                                "Statement": [
                                    {
                                        "Effect": "Deny",
                                        "Action": "ec2:CreateNetworkInterface",
                                        "Resource": "*",
                                    }
                                ]
                            },
                        ),
                    )
                ),
            )
        ),
        {("CNI001", "fail", CNI_ROLE, "critical"), ("CNI004", "fail", CNI_ROLE, "high")},
    ),
    "CNI004 boundary without the EC2 actions": (
        lambda: inventory(
            roles=(
                node_role(),
                cni_role(
                    boundary=(
                        "arn:aws:iam::111122223333:policy/b",
                        {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
                    )
                ),
            )
        ),
        {("CNI001", "fail", CNI_ROLE, "critical"), ("CNI004", "fail", CNI_ROLE, "high")},
    ),
    "CNI004 role deleted": (
        lambda: inventory(roles=(node_role(), cni_role(exists=False))),
        {("CNI001", "fail", CNI_ROLE, "critical"), ("CNI004", "fail", CNI_ROLE, "high")},
    ),
    "CNI010 no OIDC provider for the issuer": (
        lambda: inventory(oidc_providers=()),
        {
            ("CNI001", "fail", CNI_ROLE, "critical"),
            ("CNI010", "fail", f"https://{ISSUER_HOST}", "high"),
        },
    ),
    "CNI010 provider without sts.amazonaws.com": (
        lambda: inventory(
            oidc_providers=(
                provider(ACCOUNT, REGION, "5A1B2C3D4E5F60718293A4B5C6D7E8F9", ("other",)),
            )
        ),
        {
            ("CNI001", "fail", CNI_ROLE, "critical"),
            ("CNI010", "fail", f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER_HOST}", "high"),
        },
    ),
    "CNI011 node role cluster without an OIDC provider": (
        lambda: inventory(
            clusters=(cluster(addons=(vpc_cni(None),), kube=kube(env=(), sa_role=None)),),
            roles=(node_role(cni_managed()),),
            oidc_providers=(),
        ),
        {("CNI002", "fail", NODE_ROLE, "high"), ("CNI011", "fail", CLUSTER_ARN, "medium")},
    ),
    "CNI012 trust names another namespace": (
        lambda: inventory(
            roles=(
                node_role(),
                cni_role(
                    trust=irsa_trust(
                        ACCOUNT,
                        REGION,
                        "5A1B2C3D4E5F60718293A4B5C6D7E8F9",
                        sub="system:serviceaccount:default:aws-node",
                    )
                ),
            )
        ),
        {
            ("CNI001", "fail", CNI_ROLE, "critical"),
            ("CNI012", "fail", CNI_ROLE, "high"),
            ("CNI014", "fail", CNI_ROLE, "medium"),
        },
    ),
    "CNI013 StringLike wildcard": (
        lambda: inventory(
            roles=(
                node_role(),
                cni_role(
                    trust=irsa_trust(
                        ACCOUNT,
                        REGION,
                        "5A1B2C3D4E5F60718293A4B5C6D7E8F9",
                        sub="system:serviceaccount:kube-system:*",
                        operator="StringLike",
                    )
                ),
            )
        ),
        {("CNI013", "fail", CNI_ROLE, "high")},
    ),
    "CNI013 missing aud only -> medium": (
        lambda: inventory(
            roles=(
                node_role(),
                cni_role(
                    trust=irsa_trust(ACCOUNT, REGION, "5A1B2C3D4E5F60718293A4B5C6D7E8F9", aud=None)
                ),
            )
        ),
        {("CNI013", "fail", CNI_ROLE, "medium")},
    ),
    "CNI014 CNI role is also the node role": (
        lambda: inventory(
            clusters=(cluster(node_groups=(node_group("ng", CNI_ROLE),)),), roles=(cni_role(),)
        ),
        {("CNI002", "fail", CNI_ROLE, "high"), ("CNI014", "fail", CNI_ROLE, "medium")},
    ),
    "CNI015 pods not restarted after the annotation": (
        lambda: inventory(
            clusters=(cluster(kube=kube(env=())),), roles=(node_role(cni_managed()), cni_role())
        ),
        {("CNI002", "fail", NODE_ROLE, "high"), ("CNI015", "fail", DS, "medium")},
    ),
    "CNI016 add-on and annotation disagree": (
        lambda: inventory(
            clusters=(cluster(addons=(vpc_cni(f"arn:aws:iam::{ACCOUNT}:role/old"),)),)
        ),
        {("CNI016", "fail", CLUSTER_ARN, "low")},
    ),
    "CNI020 cluster tags missing": (
        lambda: inventory(clusters=(cluster(tags={"owner": "x"}),)),
        {("CNI020", "fail", CLUSTER_ARN, "low")},
    ),
    "CNI021 node role untagged": (
        lambda: inventory(roles=(node_role(tags={}), cni_role())),
        {("CNI021", "fail", NODE_ROLE, "low")},
    ),
    "CNI030-032 outage symptoms": (
        outage,
        {
            ("CNI001", "fail", NODE_ROLE, "critical"),
            ("CNI030", "fail", f"{CLUSTER_ARN}/pods", "critical"),
            ("CNI031", "fail", f"{CLUSTER_ARN}/nodes", "critical"),
            ("CNI032", "fail", DS, "high"),
        },
    ),
    "CNI040 DetachRolePolicy from the CNI role": (
        lambda: inventory(
            cloudtrail_events=(
                CloudTrailEvent(
                    event_id="e1",
                    event_time="2026-11-26T10:00:00Z",
                    event_name="DetachRolePolicy",
                    event_source="iam.amazonaws.com",
                    account=ACCOUNT,
                    region="us-east-1",
                    principal_arn="arn:aws:iam::111122223333:user/alice",
                    request_parameters={
                        "roleName": "prod-vpc-cni",
                        "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
                    },
                ),
            )
        ),
        {("CNI040", "fail", CNI_ROLE, "high")},
    ),
    "CNI041 OIDC provider deleted": (
        lambda: inventory(
            cloudtrail_events=(
                CloudTrailEvent(
                    event_id="e2",
                    event_time="2026-11-26T10:00:00Z",
                    event_name="DeleteOpenIDConnectProvider",
                    event_source="iam.amazonaws.com",
                    account=ACCOUNT,
                    region="us-east-1",
                    request_parameters={
                        "openIDConnectProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER_HOST}"
                    },
                ),
            )
        ),
        {("CNI041", "fail", f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER_HOST}", "medium")},
    ),
    "CNI090 gap on the cluster": (
        lambda: inventory(
            gaps=(
                Gap(
                    what="eks:addons",
                    reason="AccessDenied",
                    account=ACCOUNT,
                    region=REGION,
                    cluster=CLUSTER_ARN,
                    operation="eks:ListAddons",
                ),
            )
        ),
        {("CNI090", "fail", CLUSTER_ARN, "info")},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_inventory_fails_exactly(name: str) -> None:
    build, expected = CASES[name]
    assert not_passing(build()) == expected


def test_cloudtrail_events_of_other_roles_or_failed_calls_do_not_fire() -> None:
    event = CloudTrailEvent(
        event_id="e3",
        event_time="2026-11-26T10:00:00Z",
        event_name="DetachRolePolicy",
        event_source="iam.amazonaws.com",
        account=ACCOUNT,
        region="us-east-1",
        request_parameters={
            "roleName": "unrelated",
            "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        },
    )
    failed = replace(
        event,
        event_id="e4",
        request_parameters={
            "roleName": "prod-node",
            "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        },
        error_code="AccessDenied",
    )
    assert not_passing(inventory(cloudtrail_events=(event, failed))) == set()


def test_symptoms_link_to_their_cause() -> None:
    report = evaluate(outage())
    cause = next(f for f in report.findings if f.rule_id == "CNI001")
    for rule_id in ("CNI030", "CNI031", "CNI032"):
        symptom = next(f for f in report.findings if f.rule_id == rule_id)
        assert symptom.evidence["likely_cause"] == [
            {
                "rule_id": "CNI001",
                "fingerprint": cause.fingerprint,
                "resource": NODE_ROLE,
                "title": cause.title,
            }
        ]


def test_cni002_remediation_depends_on_a_working_dedicated_identity() -> None:
    with_irsa = evaluate(inventory(roles=(node_role(cni_managed()), cni_role())))
    fix = next(f.remediation for f in with_irsa.findings if f.rule_id == "CNI002")
    assert fix.startswith(
        f"aws-node already runs with irsa role {CNI_ROLE}: verify every aws-node pod"
    )
    without = evaluate(
        inventory(
            clusters=(cluster(addons=(vpc_cni(None),), kube=kube(env=(), sa_role=None)),),
            roles=(node_role(cni_managed()),),
        )
    )
    fix = next(f.remediation for f in without.findings if f.rule_id == "CNI002")
    assert fix.startswith("Move the CNI permissions to an IRSA or Pod Identity role")


def test_metadata_options_unknown_keeps_high_and_says_so() -> None:
    inv = inventory(
        clusters=(
            cluster(node_groups=(replace(node_group("ng", NODE_ROLE), metadata_options=None),)),
        ),
        roles=(node_role(cni_managed()), cni_role()),
    )
    finding = next(f for f in evaluate(inv).findings if f.rule_id == "CNI002")
    assert (finding.severity, finding.evidence["pods_reach_imds"]) == ("high", None)
    assert finding.message.endswith("Whether pods can reach IMDS is unknown.")


def test_imds_disabled_endpoint_is_not_reachable() -> None:
    ng = replace(
        node_group("ng", NODE_ROLE, tokens="optional", hop=2),
        metadata_options=MetadataOptions("optional", 2, "disabled"),
    )
    inv = inventory(
        clusters=(cluster(node_groups=(ng,)),), roles=(node_role(cni_managed()), cni_role())
    )
    assert next(f.severity for f in evaluate(inv).findings if f.rule_id == "CNI002") == "high"


def test_one_unread_metadata_setting_is_unknown_exposure() -> None:
    for opts in (MetadataOptions("required", None, "enabled"), MetadataOptions(None, 1, "enabled")):
        ng = replace(node_group("ng", NODE_ROLE), metadata_options=opts)
        inv = inventory(
            clusters=(cluster(node_groups=(ng,)),), roles=(node_role(cni_managed()), cni_role())
        )
        finding = next(f for f in evaluate(inv).findings if f.rule_id == "CNI002")
        assert (finding.severity, finding.evidence["pods_reach_imds"]) == ("high", None)
