"""Real-world Terraform patterns -> exact model objects and exact findings with line numbers."""

from __future__ import annotations

import json

from cniguard.collect.iac import synthetic
from cniguard.model.common import Origin
from cniguard.model.inventory import MetadataOptions, Role
from iac_terraform.helpers import ACCOUNT, AWS, FIXTURES, collect, failing, judge

EKS = "tests/fixtures/terraform/eks_module/main.tf"


def _policies(role: Role) -> list[str | None]:
    return [p.arn or p.name for p in role.policies or ()]


def _role_arn(fixture: str, address: str) -> str:
    """The placeholder ARN of a role whose name is not known: scoped by its root module."""
    return f"arn:aws:iam::{ACCOUNT}:role/{FIXTURES}/{fixture}/{address}"


def test_eks_module_v20_node_groups_keep_the_cni_policy() -> None:
    fragment = collect("eks_module")
    (cluster,) = fragment.clusters
    assert (cluster.arn, cluster.name, cluster.ip_family, cluster.authentication_mode) == (
        f"tf:{FIXTURES}/eks_module/module.eks.aws_eks_cluster.this[0]", "payments", "ipv4",
        "API_AND_CONFIG_MAP")
    assert (cluster.version, cluster.auto_mode) == ("1.31", False)
    assert cluster.tags == {"owner": "platform", "environment": "prod"}
    assert cluster.oidc_issuer == synthetic.issuer_url("payments")
    default, spot = cluster.node_groups or ()
    default_role = _role_arn(
        "eks_module", 'module.eks.module.eks_managed_node_group["default"].aws_iam_role.this[0]')
    assert (default.name, default.kind, default.role_arn, default.origin) == (
        "default", "managed", default_role, Origin(source="iac", file=EKS, line=16))
    assert default.metadata_options == MetadataOptions(
        http_tokens="required", hop_limit=2, http_endpoint="enabled",
        origin=Origin(source="iac", file=EKS, line=16))
    assert (spot.name, spot.origin.line if spot.origin else None) == ("spot", 19)
    assert spot.metadata_options is not None
    assert (spot.metadata_options.http_tokens, spot.metadata_options.hop_limit) == ("optional", 2)
    roles = {r.arn: r for r in fragment.roles}
    assert _policies(roles[default_role]) == [
        AWS + "AmazonEC2ContainerRegistryReadOnly", AWS + "AmazonEKSWorkerNodePolicy",
        AWS + "AmazonEKS_CNI_Policy"]
    (addon,) = cluster.addons or ()
    assert (addon.name, addon.service_account_role_arn, addon.origin) == (
        "vpc-cni", None, Origin(source="iac", file=EKS, line=10))
    (provider,) = fragment.oidc_providers
    assert provider.arn == synthetic.provider_arn(synthetic.issuer_url("payments"))
    assert provider.client_ids == ("sts.amazonaws.com",)
    assert fragment.gaps == []
    assert fragment.files_read == [
        "tests/fixtures/terraform/eks_module/main.tf",
        "tests/fixtures/terraform/eks_module/terraform.tfvars",
        "tests/fixtures/terraform/eks_module/variables.tf",
    ]


def test_eks_module_findings_point_at_the_node_group_keys() -> None:
    report = judge(collect("eks_module"))
    (result,) = report.clusters
    assert (result.cni_identity, result.compliant) == ("node_role", False)
    assert failing(report) == [
        ("CNI002", "fail", EKS, 16),
        ("CNI002", "fail", EKS, 19),
        ("CNI020", "fail", EKS, 2),
        ("CNI021", "fail", EKS, 16),
        ("CNI021", "fail", EKS, 19),
    ]
    severities = [f.severity for f in report.findings if f.rule_id == "CNI002"]
    assert severities == ["critical", "critical"]


def test_raw_resources_with_irsa_are_compliant() -> None:
    fragment = collect("raw_irsa")
    main = "tests/fixtures/terraform/raw_irsa/main.tf"
    (cluster,) = fragment.clusters
    issuer = synthetic.issuer_url("orders")
    host = issuer.removeprefix("https://")
    roles = {r.name: r for r in fragment.roles}
    cni = roles["orders-vpc-cni"]
    assert cni.arn == f"arn:aws:iam::{ACCOUNT}:role/orders-vpc-cni"
    assert cni.trust_policy == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": synthetic.provider_arn(issuer)},
        "Condition": {"StringEquals": {f"{host}:sub": "system:serviceaccount:kube-system:aws-node",
                                       f"{host}:aud": "sts.amazonaws.com"}}}]}
    assert _policies(cni) == [AWS + "AmazonEKS_CNI_Policy"]
    assert _policies(roles["orders-node"]) == [
        AWS + "AmazonEC2ContainerRegistryReadOnly", AWS + "AmazonEKSWorkerNodePolicy"]
    (addon,) = cluster.addons or ()
    assert addon.service_account_role_arn == cni.arn
    (group,) = cluster.node_groups or ()
    assert (group.role_arn, group.metadata_options) == (
        roles["orders-node"].arn,
        MetadataOptions(http_tokens="required", hop_limit=1, http_endpoint="enabled",
                        origin=Origin(source="iac", file=main, line=101)))
    (provider,) = fragment.oidc_providers
    assert (provider.url, provider.origin) == (host, Origin(source="iac", file=main, line=24))
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("irsa", True)]
    assert failing(report) == []


def test_attach_cni_false_with_ipv6_irsa_module() -> None:
    fragment = collect("ipv6_irsa_module")
    main = "tests/fixtures/terraform/ipv6_irsa_module/main.tf"
    (cluster,) = fragment.clusters
    assert cluster.ip_family == "ipv6"
    roles = {r.name: r for r in fragment.roles}
    node = roles['module.eks.module.eks_managed_node_group["general"].aws_iam_role.this[0]']
    assert _policies(node) == [AWS + "AmazonEC2ContainerRegistryReadOnly",
                               AWS + "AmazonEKSWorkerNodePolicy"]
    cni = roles["ledger-vpc-cni"]
    (policy,) = cni.policies or ()
    policy_address = f"{FIXTURES}/ipv6_irsa_module/module.vpc_cni_irsa.aws_iam_policy.vpc_cni[0]"
    assert policy.arn == f"arn:aws:iam::{ACCOUNT}:policy/{policy_address}"
    assert isinstance(policy.document, dict)
    assert [s.get("Sid") for s in policy.document["Statement"]] == ["IPV6", "CreateTags"]
    trust = cni.trust_policy
    assert isinstance(trust, dict)
    host = synthetic.issuer_url("ledger").removeprefix("https://")
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {
        f"{host}:sub": "system:serviceaccount:kube-system:aws-node",
        f"{host}:aud": "sts.amazonaws.com"}}
    assert (cluster.addons or ())[0].service_account_role_arn == cni.arn
    assert cni.origin == Origin(source="iac", file=main, line=25)
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("irsa", True)]
    assert [f[0] for f in failing(report)] == ["CNI020", "CNI021", "CNI021"]


def test_auto_mode_is_not_applicable() -> None:
    fragment = collect("auto_mode")
    (cluster,) = fragment.clusters
    assert (cluster.auto_mode, cluster.node_groups, cluster.authentication_mode) == (
        True, (), "API_AND_CONFIG_MAP")
    role = {r.arn: r for r in fragment.roles}[cluster.auto_mode_node_role_arn or ""]
    assert _policies(role) == [AWS + "AmazonEC2ContainerRegistryPullOnly",
                               AWS + "AmazonEKSWorkerNodeMinimalPolicy"]
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("not_applicable", None)]


def test_count_zero_and_create_false_do_not_exist_and_unknowns_become_gaps() -> None:
    fragment = collect("count_zero")
    main = "tests/fixtures/terraform/count_zero/main.tf"
    # the module not evaluated may add to this cluster or define one of its own (issue 10)
    cluster, unknown = fragment.clusters
    assert [(g.name, g.role_arn) for g in cluster.node_groups or ()] == [
        ("main", None), ("module.unknown (not evaluated)", None)]
    assert unknown.name == "module.unknown (module not evaluated)"
    assert [(g.resource, g.line, g.cluster) for g in fragment.gaps] == [
        (main, 32, cluster.arn), (main, 43, cluster.arn), (main, 43, unknown.arn)]
    assert fragment.gaps[0].reason == (
        "aws_eks_node_group.main: node_role_arn: cannot evaluate `var.node_role_arn` at "
        f"{main}:7: variable has no value (no default, no tfvars)")
    assert fragment.gaps[1].reason == (
        "module.unknown: module source 'git::https://example.com/acme/eks-nodes.git?ref=v1' is "
        "not evaluated; the add-ons, pod identity associations, access entries and node roles "
        "it may create for this cluster are unknown")
    report = judge(fragment)
    assert ("CNI090", "fail", main, 11) in failing(report)


def test_pod_identity_before_compute_and_karpenter_node_role() -> None:
    fragment = collect("pod_identity")
    main = "tests/fixtures/terraform/pod_identity/main.tf"
    (cluster,) = fragment.clusters
    pod_role = _role_arn("pod_identity", "module.vpc_cni_pod_identity.aws_iam_role.this[0]")
    assert [(a.name, a.pod_identity_association_arns) for a in cluster.addons or ()] == [
        ("eks-pod-identity-agent", ()),
        ("vpc-cni", (f"tf:{FIXTURES}/pod_identity/module.eks.aws_eks_addon"
                     '.before_compute["vpc-cni"].pod_identity_association[0]',)),
    ]
    (association,) = cluster.pod_identity_associations or ()
    assert (association.namespace, association.service_account, association.role_arn) == (
        "kube-system", "aws-node", pod_role)
    (karpenter,) = cluster.node_groups or ()
    assert (karpenter.kind, karpenter.role_arn, karpenter.origin) == (
        "karpenter", _role_arn("pod_identity", "module.karpenter.aws_iam_role.node[0]"),
        Origin(source="iac", file=main, line=32))
    roles = {r.arn: r for r in fragment.roles}
    assert roles[pod_role].trust_policy == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Principal": {"Service": "pods.eks.amazonaws.com"}}]}
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("mixed", False)]
    assert ("CNI002", "fail", main, 32) in failing(report)


def test_plan_json_links_unknown_arns_through_configuration_references() -> None:
    fragment = collect("plan")
    plan = "tests/fixtures/terraform/plan/plan.json"
    (cluster,) = fragment.clusters
    (group,) = cluster.node_groups or ()
    assert group.role_arn == f"arn:aws:iam::{ACCOUNT}:role/billing-node"
    assert (cluster.authentication_mode, cluster.origin) == (
        "API", Origin(source="iac", file=plan, line=8))
    report = judge(fragment)
    assert failing(report) == [("CNI002", "fail", plan, 34), ("CNI011", "fail", plan, 8)]
    assert fragment.files_read == [plan]
    assert json.loads((FIXTURES / "plan" / "plan.json").read_text())["format_version"] == "1.2"


def test_local_module_for_each_instances_follow_their_inputs() -> None:
    fragment = collect("local_module")
    module = "tests/fixtures/terraform/local_module/modules/nodes/main.tf"
    roles = {r.name: r for r in fragment.roles}
    assert sorted(roles) == ["web-blue", "web-green"]
    assert _policies(roles["web-blue"]) == [AWS + "AmazonEKS_CNI_Policy"]
    assert _policies(roles["web-green"]) == []
    assert roles["web-blue"].origin == Origin(source="iac", file=module, line=10)
    assert fragment.files_read == [
        "tests/fixtures/terraform/local_module/main.tf", module]


def test_installed_module_source_is_read_instead_of_the_emulation() -> None:
    fragment = collect("installed")
    (role,) = fragment.roles
    assert role.name == "from-installed-code-vendored"
    assert role.origin == Origin(source="iac", file="tests/fixtures/terraform/installed/main.tf",
                                 line=2)
