"""impact on the demo fleet (every identity mode) and on small scenarios: exact verdicts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cniguard.demo import build_fleet, demo_config
from cniguard.remediate.changes import (
    AttachRolePolicy,
    Change,
    DeleteAddon,
    DeleteOidcProvider,
    DeletePodIdentityAssociation,
    DeletePolicy,
    DeleteRole,
    DeleteRolePermissionsBoundary,
    DeleteRolePolicy,
    DetachRolePolicy,
    PutRolePermissionsBoundary,
    RemoveOidcClientId,
    RemoveRoleFromInstanceProfile,
    UpdateAddon,
    UpdateAssumeRolePolicy,
)
from cniguard.remediate.impact import ImpactResult, impact
from core.scenarios import (
    CNI_ROLE,
    NODE_ROLE,
    cluster,
    cni_managed,
    cni_role,
    inventory,
    kube,
    node_role,
)

FLEET = build_fleet()
CNI = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
PROVIDER = (
    "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"
    "5A1B2C3D4E5F60718293A4B5C6D7E8F9"
)
Row = tuple[str, str, list[str], list[str], str, str]


def rows(result: ImpactResult) -> list[Row]:
    return [
        (
            c.cluster.name,
            c.verdict,
            [f.rule_id for f in c.newly_failing],
            [f.rule_id for f in c.resolved],
            c.mode_before,
            c.mode_after,
        )
        for c in result.clusters
    ]


CASES: dict[str, tuple[list[Change], list[Row]]] = {
    "irsa role loses its policy": (
        [DetachRolePolicy("payments-prod-vpc-cni", CNI)],
        [("payments-prod", "breaks", ["CNI001"], [], "irsa", "none")],
    ),
    "node-role mode, managed + Karpenter on one role": (
        [DetachRolePolicy("checkout-prod-node", CNI)],
        [("checkout-prod", "breaks", ["CNI001"], ["CNI002"], "node_role", "none")],
    ),
    "mixed: inline ec2:* leaves a node role whose IRSA works": (
        [DeleteRolePolicy("search-prod-node", "bootstrap-ec2")],
        [("search-prod", "safe", [], ["CNI002"], "mixed", "mixed")],
    ),
    "self-managed node role loses a customer policy (DeletePolicy)": (
        [DeletePolicy("arn:aws:iam::111111111111:policy/eks-node-networking")],
        [("search-prod", "safe", [], ["CNI002"], "mixed", "mixed")],
    ),
    "IRSA annotated but pods not restarted: the node role is what works": (
        [DetachRolePolicy("sandbox-dev-node", CNI)],
        [("sandbox-dev", "breaks", ["CNI001"], ["CNI002"], "node_role", "none")],
    ),
    "IPv6 cluster already without the IPv6 actions": (
        [DetachRolePolicy("ml-staging-vpc-cni", CNI)],
        [("ml-staging", "unaffected", [], [], "none", "none")],
    ),
    "shared CNI role: both clusters are judged": (
        [DetachRolePolicy("staging-shared-vpc-cni", CNI)],
        [
            ("web-staging", "breaks", ["CNI001"], [], "irsa", "none"),
            ("api-staging", "unaffected", [], [], "none", "none"),
        ],
    ),
    "pod identity association deleted (pods restart without credentials)": (
        [DeletePodIdentityAssociation("reporting-dev", "a-0abc1def2ghi3jkl4")],
        [("reporting-dev", "breaks", ["CNI001"], ["CNI021"], "pod_identity", "none")],
    ),
    "OIDC provider deleted": (
        [DeleteOidcProvider(PROVIDER)],
        [("payments-prod", "breaks", ["CNI001", "CNI010"], [], "irsa", "none")],
    ),
    "sts.amazonaws.com removed from the provider": (
        [RemoveOidcClientId(PROVIDER, "sts.amazonaws.com")],
        [("payments-prod", "breaks", ["CNI001", "CNI010"], [], "irsa", "none")],
    ),
    "trust emptied": (
        [
            UpdateAssumeRolePolicy(
                "payments-prod-vpc-cni", {"Version": "2012-10-17", "Statement": []}
            )
        ],
        [("payments-prod", "breaks", ["CNI001", "CNI012"], [], "irsa", "none")],
    ),
    "boundary from the bundled AWS managed documents": (
        [
            PutRolePermissionsBoundary(
                "payments-prod-vpc-cni", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
            )
        ],
        [("payments-prod", "breaks", ["CNI001", "CNI004"], [], "irsa", "none")],
    ),
    "boundary removed from a capped IRSA role": (
        [DeleteRolePermissionsBoundary("legacy-dev-vpc-cni")],
        [("legacy-dev", "improves", [], ["CNI001", "CNI004"], "mixed", "mixed")],
    ),
    "add-on role removed (EKS drops the annotation, pods restart)": (
        [UpdateAddon("payments-prod", "vpc-cni", set_role=True, role_arn=None)],
        [("payments-prod", "breaks", ["CNI001"], [], "irsa", "none")],
    ),
    "instance profile emptied": (
        [RemoveRoleFromInstanceProfile("checkout-prod-node", "checkout-prod-node")],
        [("checkout-prod", "breaks", ["CNI001"], ["CNI002"], "node_role", "none")],
    ),
    "Windows-only node role: aws-node does not run there": (
        [
            DetachRolePolicy(
                "windows-dev-node", "arn:aws:iam::333333333333:policy/AmazonEKS_CNI_IPv6_Policy"
            )
        ],
        [("windows-dev", "safe", [], ["CNI002"], "not_applicable", "not_applicable")],
    ),
    "a role absent from a fully read account touches nothing": (
        [DetachRolePolicy("nope", CNI)],
        [],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fleet_verdicts(name: str) -> None:
    changes, expected = CASES[name]
    assert rows(impact(FLEET, changes, demo_config())) == expected


def test_unreadable_node_role_is_unknown_not_safe() -> None:
    result = impact(
        FLEET, [DetachRolePolicy("arn:aws:iam::111111111111:role/partner-prod-node", CNI)]
    )
    (c,) = result.clusters
    assert (c.cluster.name, c.verdict, c.mode_before) == ("partner-prod", "unknown", "unknown")
    assert c.unknown[0] == (
        "role arn:aws:iam::111111111111:role/partner-prod-node is not in the inventory (not read)"
    )
    assert result.incomplete() and result.breaking("critical") == []


def test_pod_identity_without_the_agent_is_named() -> None:
    (c,) = impact(FLEET, [DeleteRole("reporting-dev-vpc-cni")]).clusters
    assert (c.verdict, [f.rule_id for f in c.newly_failing]) == ("breaks", ["CNI001", "CNI004"])
    assert c.unknown == (
        "aws-node uses Pod Identity but neither an eks-pod-identity-agent add-on nor its "
        "DaemonSet was found: without the agent aws-node gets no credentials",
    )


def test_unknown_boundary_document_is_unknown() -> None:
    arn = "arn:aws:iam::111111111111:policy/nope"
    result = impact(FLEET, [PutRolePermissionsBoundary("payments-prod-vpc-cni", arn)])
    (c,) = result.clusters
    assert (c.verdict, c.newly_failing) == ("unknown", ())
    assert result.notes == (
        f"change 0 (put_role_permissions_boundary): the document of boundary {arn} is not known",
    )


def test_deleting_the_vpc_cni_addon_cannot_be_promised_safe() -> None:
    (c,) = impact(FLEET, [DeleteAddon("payments-prod", "vpc-cni")]).clusters
    assert c.verdict == "unknown"
    assert c.unknown == (
        "deleting the vpc-cni add-on without preserve removes aws-node itself: new pods get no "
        "IP whatever IAM grants (the rules judge IAM, not a cluster without its CNI)",
    )


def test_self_managed_aws_node_without_the_addon() -> None:
    """aws-node installed by hand (no vpc-cni add-on), IRSA by annotation."""
    inv = inventory(clusters=(cluster(addons=()),))
    result = impact(inv, [DetachRolePolicy(CNI_ROLE, CNI)])
    assert rows(result) == [("prod", "breaks", ["CNI001"], [], "irsa", "none")]
    noop = impact(inv, [UpdateAddon("prod", "vpc-cni", set_role=True, role_arn=None)])
    assert (noop.clusters, noop.notes) == (
        (),
        (
            "change 0 (update_addon): prod has no vpc-cni add-on: the call would fail "
            "(ResourceNotFoundException); nothing changes",
        ),
    )


def test_shared_node_role_across_clusters() -> None:
    other = cluster(arn="arn:aws:eks:us-east-1:111122223333:cluster/other", name="other")
    node_only = replace(other, addons=(), kube=kube(env=(), sa_role=None))
    inv = inventory(clusters=(cluster(), node_only), roles=(node_role(cni_managed()), cni_role()))
    result = impact(inv, [DetachRolePolicy(NODE_ROLE, CNI)])
    assert rows(result) == [
        ("other", "breaks", ["CNI001"], ["CNI002"], "node_role", "none"),
        ("prod", "safe", [], ["CNI002"], "mixed", "irsa"),
    ]


def test_attach_restores_and_role_by_arn() -> None:
    inv = inventory(roles=(node_role(), cni_role()))
    result = impact(inv, [DetachRolePolicy(CNI_ROLE, CNI), AttachRolePolicy("prod-vpc-cni", CNI)])
    assert rows(result) == [("prod", "unaffected", [], [], "irsa", "irsa")]
    assert result.clusters[0].changes == (0, 1)


def test_ambiguous_role_name_applies_to_all_and_says_so() -> None:
    twin = replace(
        cni_role(), arn="arn:aws:iam::444455556666:role/prod-vpc-cni", account="444455556666"
    )
    inv = inventory(roles=(node_role(), cni_role(), twin))
    result = impact(inv, [DetachRolePolicy("prod-vpc-cni", CNI)])
    assert result.notes == (
        "change 0 (detach_role_policy): role name prod-vpc-cni matches 2 roles "
        f"({CNI_ROLE}, arn:aws:iam::444455556666:role/prod-vpc-cni): applied to all of them",
    )
    assert rows(result) == [("prod", "breaks", ["CNI001"], [], "irsa", "none")]


def test_pods_restart_with_the_new_addon_role() -> None:
    new_role = replace(cni_role(), arn="arn:aws:iam::111122223333:role/next-cni", name="next-cni")
    inv = inventory(roles=(node_role(), cni_role(), replace(new_role, policies=())))
    result = impact(inv, [UpdateAddon("prod", "vpc-cni", set_role=True, role_arn=new_role.arn)])
    (c,) = result.clusters
    assert (c.verdict, [(f.rule_id, f.resource) for f in c.newly_failing]) == (
        "breaks",
        [("CNI001", new_role.arn)],
    )
    assert c.newly_failing[0].evidence["binding_source"] == "pods"
