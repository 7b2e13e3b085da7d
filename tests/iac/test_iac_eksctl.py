"""eksctl ClusterConfig into the roles and bindings eksctl would create."""

from __future__ import annotations

from pathlib import Path

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.eksctl import collect_eksctl
from cniguard.model.inventory import MetadataOptions, Role

FIXTURES = Path("tests/fixtures/iac/eksctl")
WITH = str(FIXTURES / "with-oidc.yaml")
WITHOUT = str(FIXTURES / "without-oidc.yaml")
AWS = "arn:aws:iam::aws:policy/"


def _policies(role: Role) -> list[str]:
    return [p.arn or p.name for p in role.policies or ()]


def test_with_oidc_node_role_lacks_cni_and_vpc_cni_gets_irsa_role() -> None:
    out = collect_eksctl([Path(WITH)])
    (cluster,) = out.clusters
    roles = {r.name: r for r in out.roles}
    node = roles["eksctl-payments-nodegroup-general-NodeInstanceRole"]
    assert _policies(node) == [
        AWS + "AmazonEC2ContainerRegistryPullOnly",
        AWS + "AmazonEKSWorkerNodePolicy",
        AWS + "AmazonSSMManagedInstanceCore",
    ]
    assert node.tags == {"owner": "payments-team", "cost-center": "cc-42", "environment": "prod"}
    (group,) = cluster.node_groups or ()
    assert (group.kind, group.instance_count, group.metadata_options) == (
        "managed",
        3,
        MetadataOptions(http_tokens="required", hop_limit=1, origin=group.origin),
    )
    (addon,) = cluster.addons or ()
    cni = roles["eksctl-payments-addon-vpc-cni-Role1"]
    assert addon.service_account_role_arn == cni.arn
    assert _policies(cni) == [AWS + "AmazonEKS_CNI_Policy"]
    issuer = synthetic.issuer_url(f"eksctl:{WITH}#payments", "eu-west-1")
    assert cluster.oidc_issuer == issuer
    assert cni.trust_policy == synthetic.irsa_trust(issuer, "kube-system", "aws-node")
    assert [(p.url, p.client_ids) for p in out.oidc_providers] == [
        (issuer.removeprefix("https://"), ("sts.amazonaws.com",))
    ]
    assert out.gaps == []  # withOIDC is cluster configuration: `eksctl create cluster`


def test_without_oidc_node_roles_carry_cni_and_karpenter_always_does() -> None:
    out = collect_eksctl([Path(WITHOUT)])
    (cluster,) = out.clusters
    roles = {r.name: r for r in out.roles}
    assert _policies(roles["eksctl-batch-nodegroup-spot-NodeInstanceRole"]) == [
        AWS + "AmazonEC2ContainerRegistryPullOnly",
        AWS + "AmazonEKSWorkerNodePolicy",
        AWS + "AmazonEKS_CNI_Policy",
        AWS + "AmazonSSMManagedInstanceCore",
    ]
    assert _policies(roles["eksctl-batch-nodegroup-windows-NodeInstanceRole"]) == [
        AWS + "AmazonEKSWorkerNodePolicy",
        AWS + "AmazonEKS_CNI_Policy",
        AWS + "AmazonEC2ContainerRegistryPullOnly",
    ]
    assert _policies(roles["eksctl-KarpenterNodeRole-batch"]) == [
        AWS + "AmazonEC2ContainerRegistryPullOnly",
        AWS + "AmazonEKSWorkerNodePolicy",
        AWS + "AmazonEKS_CNI_Policy",
        AWS + "AmazonSSMManagedInstanceCore",
    ]
    assert [
        (g.name, g.kind, g.os, g.origin.line if g.origin else 0) for g in cluster.node_groups or ()
    ] == [
        ("spot", "managed", "linux", 9),
        ("windows", "self_managed", "windows", 14),
        ("karpenter", "karpenter", "linux", 23),
    ]
    assert [(a.name, a.service_account_role_arn) for a in cluster.addons or ()] == [
        ("vpc-cni", None)
    ]
    assert out.oidc_providers == [] and out.gaps == []


def test_pod_identity_auto_apply_on_ipv6_uses_inline_ipv6_document(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\n"
        "metadata: {name: six, region: us-west-2}\n"
        "kubernetesNetworkConfig: {ipFamily: IPv6}\n"
        "iam: {withOIDC: true}\n"
        "addonsConfig: {autoApplyPodIdentityAssociations: true}\n"
        "addons: [{name: vpc-cni}, {name: eks-pod-identity-agent}]\n"
    )
    out = collect_eksctl([config])
    (cluster,) = out.clusters
    (assoc,) = cluster.pod_identity_associations or ()
    role = next(r for r in out.roles if r.arn == assoc.role_arn)
    assert (assoc.namespace, assoc.service_account, cluster.ip_family) == (
        "kube-system",
        "aws-node",
        "ipv6",
    )
    assert role.trust_policy == synthetic.pod_identity_trust()
    assert [p.document for p in role.policies or ()] == [synthetic.ipv6_cni_document()]
    assert (cluster.addons or ())[0].pod_identity_association_arns == (assoc.arn,)


def test_iam_service_account_for_aws_node_annotates_the_service_account(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: sa}\n"
        "iam:\n  withOIDC: true\n  serviceAccounts:\n"
        "    - metadata: {name: aws-node, namespace: kube-system}\n"
        "      attachPolicyARNs: [arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy]\n"
        "addonsConfig: {disableDefaultAddons: true}\n"
    )
    (cluster,) = collect_eksctl([config]).clusters
    assert cluster.kube is not None
    assert [(s.name, s.annotations) for s in cluster.kube.service_accounts or ()] == [
        (
            "aws-node",
            {
                "eks.amazonaws.com/role-arn": "arn:aws:iam::${account}:role/"
                "eksctl-sa-addon-iamserviceaccount-kube-system-aws-node-Role1"
            },
        )
    ]
    assert cluster.addons == ()
