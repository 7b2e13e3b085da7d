"""Issue 10, Terraform side: modules not evaluated, clusters defined elsewhere, platform
defaults, the community modules EKS users call, and a gap behind every unknown verdict."""

from __future__ import annotations

from cniguard.collect.iac.terraform.registry import registry_key
from cniguard.model.common import Origin
from cniguard.model.inventory import MetadataOptions
from iac_terraform.helpers import ACCOUNT, AWS, FIXTURES, collect, failing, judge


def test_module_not_evaluated_makes_the_cluster_it_is_given_unknown() -> None:
    fragment = collect("wild_unevaluated")
    main = f"{FIXTURES}/wild_unevaluated/main.tf"
    (cluster,) = fragment.clusters
    assert (cluster.addons, cluster.pod_identity_associations) == (None, None)
    assert [(g.name, g.kind, g.role_arn) for g in cluster.node_groups or ()] == [
        ("module.cni_identity (not evaluated)", "unknown", None)
    ]
    # the VPC module creates nothing EKS: no gap for it
    assert [(g.line, g.cluster, g.reason) for g in fragment.gaps] == [
        (
            12,
            cluster.arn,
            "module.cni_identity: module source 'example-org/eks-cni-identity/aws' "
            "is not evaluated; the add-ons, pod identity associations, access entries and node "
            "roles it may create for this cluster are unknown",
        )
    ]
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("unknown", None)]
    assert ("CNI001", "unknown", main, 2) in failing(report)
    assert ("CNI002", "unknown", main, 12) in failing(report)


def test_clusters_defined_elsewhere_are_reported_and_judged_as_far_as_the_files_go() -> None:
    fragment = collect("wild_elsewhere")
    main = f"{FIXTURES}/wild_elsewhere/main.tf"
    root = f"{FIXTURES}/wild_elsewhere"
    shared, unresolved = fragment.clusters
    assert (shared.arn, shared.name, shared.ip_family) == (
        f"tf:{root}/cluster:shared-platform",
        "shared-platform",
        None,
    )
    assert [(g.name, g.role_arn) for g in shared.node_groups or ()] == [
        ("extra", f"arn:aws:iam::{ACCOUNT}:role/shared-nodes"),
        ("node groups defined elsewhere", None),
    ]
    assert shared.addons is None  # its vpc-cni add-on is not in these files
    assert (unresolved.arn, unresolved.name) == (
        f"tf:{root}/cluster:var.cluster_name",
        "`var.cluster_name` (unresolved)",
    )
    assert [a.name for a in unresolved.addons or ()] == ["vpc-cni"]
    assert [(g.line, g.cluster) for g in fragment.gaps] == [(21, shared.arn), (28, unresolved.arn)]
    assert fragment.gaps[0].reason == (
        "aws_eks_node_group.extra: cluster shared-platform is not defined in the scanned files: "
        "its IP family, OIDC issuer, authentication mode and the node groups, add-ons and pod "
        "identity associations defined elsewhere are unknown"
    )
    report = judge(fragment)
    # the node role in these files grants the CNI policy: a definite, critical CNI002
    assert [
        (f.rule_id, f.severity)
        for f in report.findings
        if f.status == "fail" and f.rule_id == "CNI002"
    ] == [("CNI002", "critical")]
    assert ("CNI002", "fail", main, 10) in failing(report)
    assert ("CNI001", "unknown", main, 20) in failing(report)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [
        ("unknown", None),
        ("unknown", None),
    ]


def test_platform_defaults_decide_imds_and_ip_family() -> None:
    fragment = collect("wild_defaults")
    main = f"{FIXTURES}/wild_defaults/main.tf"
    (cluster,) = fragment.clusters
    assert cluster.ip_family == "ipv4"  # dynamic block with an empty for_each
    assert [(g.name, g.metadata_options) for g in cluster.node_groups or ()] == [
        (
            "no-template",
            MetadataOptions("required", 2, "enabled", Origin("iac", file=main, line=31)),
        ),
        (
            "bare-template",
            MetadataOptions("optional", 2, "enabled", Origin("iac", file=main, line=27)),
        ),
    ]
    assert fragment.gaps == []
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("node_role", False)]
    assert [(f.rule_id, f.severity) for f in report.findings if f.rule_id == "CNI002"] == [
        ("CNI002", "critical")
    ]


def test_community_modules_are_evaluated_with_their_defaults() -> None:
    fragment = collect("wild_community")
    main = f"{FIXTURES}/wild_community/main.tf"
    (cluster,) = fragment.clusters
    assert (cluster.name, cluster.ip_family) == ("acme-prod-edge1-cluster", "ipv4")
    assert [(a.name, a.service_account_role_arn) for a in cluster.addons or ()] == [
        ("vpc-cni", "arn:aws:iam::111122223333:role/acme-vpc-cni")
    ]
    (group,) = cluster.node_groups or ()
    assert (group.name, group.role_arn, group.metadata_options) == (
        "acme-prod-edge1-workers",
        f"arn:aws:iam::{ACCOUNT}:role/acme-prod-edge1-workers",
        MetadataOptions("required", 2, "enabled", Origin("iac", file=main, line=16)),
    )
    (role,) = fragment.roles
    assert [p.arn for p in role.policies or ()] == [
        AWS + "AmazonEKSWorkerNodePolicy",
        AWS + "AmazonEC2ContainerRegistryReadOnly",
        f"arn:aws:iam::{ACCOUNT}:policy/acme-prod-edge1-CNI_Policy",
    ]
    # the vpc-cni role exists only as an ARN: unknown, and said so where it is named
    assert [(g.line, g.cluster, g.reason) for g in fragment.gaps] == [
        (
            28,
            cluster.arn,
            "add-on vpc-cni: role arn:aws:iam::111122223333:role/acme-vpc-cni is "
            "not defined in the scanned files; its policies are unknown",
        )
    ]
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("mixed", False)]
    assert ("CNI002", "fail", main, 16) in failing(report)
    assert ("CNI001", "unknown", main, 10) in failing(report)


def test_module_of_unknown_count_is_evaluated_once_and_may_not_exist() -> None:
    fragment = collect("wild_module_count")
    main = f"{FIXTURES}/wild_module_count/main.tf"
    root = f"{FIXTURES}/wild_module_count"
    (cluster,) = fragment.clusters
    assert (cluster.arn, cluster.name) == (f"tf:{root}/module.eks.aws_eks_cluster.this[0]", "gated")
    (group,) = cluster.node_groups or ()
    assert group.name == "default"
    (role,) = fragment.roles
    assert [(p.name, p.document) for p in role.policies or ()] == [
        (f"{name} (count `var.enabled` unresolved)", None)
        for name in (
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
        )
    ]
    why = f"count: cannot evaluate `var.enabled` at {main}:2: variable has no value (no default, no tfvars)"
    assert (fragment.gaps[1].line, fragment.gaps[1].cluster, fragment.gaps[1].reason) == (
        6,
        cluster.arn,
        f"module.eks.aws_eks_cluster.this[0]: {why}; the cluster may not exist (reported as if "
        "it does)",
    )
    assert len(fragment.gaps) == 8
    assert all(why in gap.reason for gap in fragment.gaps)
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("unknown", None)]
    assert ("CNI002", "unknown", main, 6) in failing(report)


def test_module_whose_cluster_cannot_be_told_touches_every_cluster() -> None:
    fragment = collect("wild_untied")
    main = f"{FIXTURES}/wild_untied/main.tf"
    root = f"{FIXTURES}/wild_untied"
    blue, green = fragment.clusters
    for cluster in (blue, green):
        assert (cluster.addons, cluster.pod_identity_associations) == (None, None)
        assert ("module.platform (not evaluated)", None) in [
            (g.name, g.role_arn) for g in cluster.node_groups or ()
        ]
    karpenter = f"arn:aws:iam::{ACCOUNT}:role/{root}/module.addons.aws_iam_role.karpenter[0]"
    assert [(g.name, g.role_arn) for g in green.node_groups or ()] == [
        ("aws_eks_access_entry.karpenter", karpenter),
        ("module.platform (not evaluated)", None),
        ("module.roles (not evaluated)", None),
    ]
    (role,) = fragment.roles
    assert (role.arn, sorted(str(p.arn) for p in role.policies or ())) == (
        karpenter,
        [
            AWS + "AmazonEC2ContainerRegistryReadOnly",
            AWS + "AmazonEKSWorkerNodePolicy",
            AWS + "AmazonEKS_CNI_Policy",
        ],
    )
    platform = (
        "module.platform: module source 'git::https://example.com/platform.git?ref=v1' is not "
        "evaluated; the add-ons, pod identity associations, access entries and node roles it "
        "may create for this cluster are unknown"
    )
    not_known = (
        "module source 'example-org/roles/aws' is not evaluated (not local, not installed in "
        ".terraform/modules, not a registry module cniguard knows)"
    )
    roles = platform.replace("module.platform", "module.roles").replace(
        "'git::https://example.com/platform.git?ref=v1'", "'example-org/roles/aws'"
    )
    # module.roles names no cluster: it may add to either
    assert [(g.line, g.cluster, g.reason) for g in fragment.gaps] == [
        (
            29,
            blue.arn,
            f"aws_eks_node_group.blue: node_role_arn: cannot evaluate `module.roles`: {not_known}",
        ),
        (17, blue.arn, platform),
        (22, blue.arn, roles),
        (17, green.arn, platform),
        (22, green.arn, roles),
    ]
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [
        ("unknown", None),
        ("unknown", None),
    ]
    assert ("CNI002", "fail", main, 32) in failing(report)  # the Karpenter node role


def test_community_module_sources_are_recognised() -> None:
    assert [
        registry_key(s)
        for s in (
            "cloudposse/label/null",
            "cloudposse/eks-node-group/aws",
            "git::https://github.com/cloudposse/terraform-aws-eks-cluster.git?ref=4.2.0",
            "aws-ia/eks-blueprints-addons/aws",
            "aws-ia/eks-blueprints-addon/aws",
            "cloudposse/eks-iam-role/aws",
        )
    ] == [
        ("cloudposse/label", None),
        ("cloudposse/eks-node-group", None),
        ("cloudposse/eks-cluster", "4.2.0"),
        ("aws-ia/eks-blueprints-addons", None),
        None,
        None,
    ]


def test_empty_cluster_name_of_a_reusable_module_is_named_as_such() -> None:
    fragment = collect("wild_empty_name")
    root = f"{FIXTURES}/wild_empty_name"
    (cluster,) = fragment.clusters
    assert (cluster.arn, cluster.name) == (
        f"tf:{root}/cluster:(empty)",
        "(empty name: set by the caller)",
    )
    assert [(g.name, g.role_arn) for g in cluster.node_groups or ()] == [
        ("aws_eks_access_entry.nodes", "arn:aws:iam::111122223333:role/nodes"),
        ("node groups defined elsewhere", None),
    ]
    assert [(g.line, g.reason) for g in fragment.gaps] == [
        (
            8,
            "aws_eks_access_entry.nodes: cluster (empty name: set by the caller) is not defined "
            "in the scanned files: its IP family, OIDC issuer, authentication mode and the node "
            "groups, add-ons and pod identity associations defined elsewhere are unknown",
        ),
        (
            7,
            "node group aws_eks_access_entry.nodes: role arn:aws:iam::111122223333:role/nodes is "
            "not defined in the scanned files; its policies are unknown",
        ),
    ]


def test_eks_module_not_evaluated_and_given_no_cluster_may_define_one() -> None:
    fragment = collect("wild_eks_module")
    main = f"{FIXTURES}/wild_eks_module/main.tf"
    root = f"{FIXTURES}/wild_eks_module"
    (cluster,) = fragment.clusters
    assert (cluster.arn, cluster.name, cluster.addons) == (
        f"tf:{root}/module.platform_eks",
        "module.platform_eks (module not evaluated)",
        None,
    )
    assert [(g.name, g.role_arn) for g in cluster.node_groups or ()] == [
        ("module.platform_eks (not evaluated)", None)
    ]
    assert [(g.line, g.cluster, g.reason) for g in fragment.gaps] == [
        (
            2,
            cluster.arn,
            "module.platform_eks: module source "
            "'git::https://example.com/acme/terraform-acme-eks.git?ref=v3.1.0' is not evaluated; "
            "the add-ons, pod identity associations, access entries and node roles it may create "
            "for this cluster are unknown",
        )
    ]
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("unknown", None)]
    assert ("CNI001", "unknown", main, 2) in failing(report)


def test_service_principal_data_source_resolves() -> None:
    fragment = collect("wild_service_principal")
    (role,) = fragment.roles
    assert role.trust_policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "ec2.amazonaws.com"},
            }
        ],
    }
    assert (fragment.clusters, fragment.gaps) == ([], [])
