"""One cluster written in Terraform, CloudFormation and eksctl: same inventory, same findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cniguard.collect.iac.scan import collect_iac
from cniguard.engine import evaluate

EQUIVALENT = Path("tests/fixtures/iac/equivalent")
NODE_POLICIES = [
    f"arn:aws:iam::aws:policy/{n}"
    for n in (
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonSSMManagedInstanceCore",
    )
]


@pytest.mark.parametrize("name", ["main.tf", "cloudformation.yaml", "eksctl.yaml"])
def test_each_format_yields_the_same_cluster_and_findings(name: str) -> None:
    inventory = collect_iac([EQUIVALENT / name])
    (cluster,) = inventory.clusters
    (group,) = cluster.node_groups or ()
    meta = group.metadata_options
    assert (
        cluster.name,
        cluster.ip_family,
        [a.name for a in cluster.addons or ()],
        group.name,
        group.kind,
        meta and (meta.http_tokens, meta.hop_limit),
    ) == ("shop", "ipv4", ["vpc-cni"], "general", "managed", ("required", 2))
    role = next(r for r in inventory.roles if r.arn == group.role_arn)
    assert sorted(p.arn or "" for p in role.policies or ()) == NODE_POLICIES
    assert (
        role.tags
        == cluster.tags
        == {"owner": "shop-team", "cost-center": "cc-1", "environment": "prod"}
    )
    report = evaluate(inventory)
    assert [(c.cni_identity, c.compliant) for c in report.clusters] == [("node_role", False)]
    assert sorted(
        (f.rule_id, f.severity, f.resource == role.arn, f.location is not None)
        for f in report.findings
        if f.status == "fail"
    ) == [("CNI002", "critical", True, True), ("CNI011", "medium", False, True)]
    assert inventory.gaps == ()
