"""Unresolvable values never make a cluster, a node group or a policy silently absent."""

from __future__ import annotations

from iac_terraform.helpers import ACCOUNT, AWS, FIXTURES, collect, failing, judge

VAR = "variable has no value (no default, no tfvars)"


def test_cluster_with_unresolved_name_is_reported_with_its_children() -> None:
    fragment = collect("unresolved_name")
    main = f"{FIXTURES}/unresolved_name/main.tf"
    (cluster,) = fragment.clusters
    node_role = f"arn:aws:iam::{ACCOUNT}:role/{FIXTURES}/unresolved_name/aws_iam_role.node"
    assert (cluster.arn, cluster.name) == (
        f"tf:{FIXTURES}/unresolved_name/aws_eks_cluster.main",
        "aws_eks_cluster.main (name unresolved)",
    )
    assert [(g.name, g.role_arn) for g in cluster.node_groups or ()] == [("default", node_role)]
    assert [a.name for a in cluster.addons or ()] == ["vpc-cni"]
    (role,) = fragment.roles
    assert (role.arn, [p.arn for p in role.policies or ()]) == (
        node_role, [AWS + "AmazonEKS_CNI_Policy"])
    assert [(g.line, g.cluster, g.reason) for g in fragment.gaps] == [
        (17, cluster.arn, f"aws_eks_cluster.main: name: cannot evaluate `var.cluster_name` at "
         f"{main}:2: {VAR}; reported under its address, children linked by reference"),
        (7, cluster.arn, f"aws_iam_role.node: name: cannot evaluate `var.cluster_name` at "
         f"{main}:2: {VAR}; linked by reference to its address"),
    ]
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("node_role", False)]
    assert failing(report) == [
        ("CNI002", "fail", main, 6),
        ("CNI011", "fail", main, 16),
        ("CNI020", "fail", main, 16),
        ("CNI021", "fail", main, 6),
        ("CNI090", "fail", main, 16),
    ]


def test_unresolved_policy_attachments_make_the_grant_unknown() -> None:
    fragment = collect("unresolved_attachments")
    main = f"{FIXTURES}/unresolved_attachments/main.tf"
    (cluster,) = fragment.clusters
    roles = {r.name: r for r in fragment.roles}
    policies = {
        name: [(p.name, p.document is None) for p in role.policies or ()]
        for name, role in roles.items()
    }
    unknown_role = ("AmazonEKSWorkerNodePolicy", False)  # `role = var.extra_role`: any role
    assert policies == {
        "prod-node": [
            ("aws_iam_role_policy_attachment.node (for_each `var.node_policy_arns` unresolved)",
             True),
            unknown_role,
        ],
        "prod-cni": [unknown_role, ("`var.node_policy_arns` (unresolved)", True)],
        "prod-other": [unknown_role],
    }
    assert [(g.line, g.cluster) for g in fragment.gaps] == [
        (16, cluster.arn), (35, None), (22, cluster.arn)]
    assert fragment.gaps[0].reason == (
        "aws_iam_role_policy_attachment.node: for_each: cannot evaluate `var.node_policy_arns` "
        f"at {main}:1: {VAR}; the role's grant is unknown (aws_iam_role_policy_attachment.node "
        "(for_each `var.node_policy_arns` unresolved))")
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("unknown", None)]
    assert failing(report) == [
        ("CNI001", "unknown", main, 44),
        ("CNI002", "unknown", main, 44),
        ("CNI003", "unknown", main, 44),
        ("CNI004", "unknown", main, 44),
        ("CNI020", "fail", main, 44),
        ("CNI021", "fail", main, 9),
        ("CNI021", "fail", main, 20),
        ("CNI090", "fail", main, 44),
    ]


def test_unknown_count_counts_node_groups_and_leaves_pod_identity_unknown() -> None:
    fragment = collect("unknown_count")
    main = f"{FIXTURES}/unknown_count/main.tf"
    (cluster,) = fragment.clusters
    assert [(g.name, g.role_arn) for g in cluster.node_groups or ()] == [
        ("aws_eks_node_group.ng", f"arn:aws:iam::{ACCOUNT}:role/dev-node")]
    assert cluster.pod_identity_associations is None
    assert [(g.line, g.cluster, g.reason) for g in fragment.gaps] == [
        (42, cluster.arn, f"aws_eks_pod_identity_association.cni: count: cannot evaluate "
         f"`var.create_irsa` at {main}:1: {VAR}; it may not exist (the cluster's pod identity "
         "is unknown)"),
        (29, cluster.arn, f"aws_eks_node_group.ng: for_each: cannot evaluate `var.node_groups` "
         f"at {main}:5: {VAR}; it may not exist (counted as this cluster's)"),
    ]
    report = judge(fragment)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("unknown", None)]
    statuses = {(f.rule_id, f.status) for f in report.findings if f.rule_id in (
        "CNI001", "CNI002", "CNI090")}
    assert statuses == {("CNI001", "unknown"), ("CNI002", "fail"), ("CNI090", "fail")}
    assert ("CNI002", "fail", main, 9) in failing(report)
