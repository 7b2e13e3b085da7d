"""Assembling a cluster when EC2 instances could not be read: node roles stay incomplete."""

from __future__ import annotations

from dataclasses import replace

from cniguard.collect.aws.drafts import UNREAD_INSTANCES, ClusterDraft, assemble
from cniguard.demo.builders import cni_managed, node_group
from cniguard.engine import evaluate
from core.scenarios import NODE_ROLE, inventory, kube, node_role


def draft(instances: list[object] | None) -> ClusterDraft:
    return ClusterDraft(
        name="prod",
        account="111122223333",
        region="us-east-1",
        partition="aws",
        info={
            "arn": "arn:aws:eks:us-east-1:111122223333:cluster/prod",
            "tags": {},
            "kubernetesNetworkConfig": {"ipFamily": "ipv4"},
            "identity": {"oidc": {"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/X"}},
        },
        managed=[node_group("ng", NODE_ROLE)],
        fargate=[],
        addons=[],
        pod_identity=[],
        access_entries=[],
        instances=instances,  # type: ignore[arg-type]
    )


def test_unread_instances_leave_an_unknown_node_group() -> None:
    groups = assemble(draft(None)).node_groups
    assert groups is not None
    assert [(g.name, g.kind, g.role_arn) for g in groups] == [
        ("ng", "managed", NODE_ROLE),
        (UNREAD_INSTANCES, "unknown", None),
    ]
    assert [(g.name, g.kind) for g in assemble(draft([])).node_groups or ()] == [("ng", "managed")]


def test_unread_instances_never_pass_cni002() -> None:
    cluster = replace(assemble(draft(None)), kube=kube(env=(), sa_role=None))
    report = evaluate(inventory(clusters=(cluster,), roles=(node_role(),)))
    cni002 = sorted((f.status, f.resource) for f in report.findings if f.rule_id == "CNI002")
    assert cni002 == [("pass", NODE_ROLE), ("unknown", UNREAD_INSTANCES)]
    assert report.clusters[0].cni_identity == "unknown"
    clean = replace(assemble(draft([])), kube=kube(env=(), sa_role=None))
    report = evaluate(inventory(clusters=(clean,), roles=(node_role(cni_managed()),)))
    assert report.clusters[0].cni_identity == "node_role"
