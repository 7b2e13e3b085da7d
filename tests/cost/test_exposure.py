"""Exposure of the CNI's ENI permissions, against a fleet counted by hand.

The fleet (every cluster's node role is only used by its own node groups):

| cluster | node role grants ENI actions | node group: IMDS settings            | exposed nodes |
|---------|------------------------------|--------------------------------------|---------------|
| alpha   | yes (AmazonEKS_CNI_Policy)   | open: HttpTokens optional, 3 nodes read | 3          |
|         |                              | locked: required, hop limit 1        | 0             |
|         |                              | hop2: required, hop limit 2, 5 self-managed instances | 5 |
| beta    | no (worker policy only)      | open: optional                       | - (no grant)  |
| gamma   | yes                          | unread: metadata options not read    | unknown       |
| delta   | yes                          | off: IMDS endpoint disabled          | 0 (not exposed) |

So: 1 cluster exposed (alpha, 8 nodes), 1 unknown (gamma), beta and delta not exposed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cniguard.demo.builders import (
    EC2_TRUST,
    WORKER_NODE_DOC,
    cni_managed,
    managed,
    node_group,
    nodes,
    role,
)
from cniguard.engine import evaluate
from cniguard.model.inventory import Cluster, MetadataOptions, NodeGroup, Role
from core.scenarios import ACCOUNT, REGION, cluster, inventory, kube

ENI_ACTIONS = [
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:CreateTags",
    "ec2:DeleteNetworkInterface",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:UnassignPrivateIpAddresses",
]


def _role(name: str, cni: bool) -> Role:
    worker = managed("AmazonEKSWorkerNodePolicy", WORKER_NODE_DOC)
    policies = (worker, cni_managed()) if cni else (worker,)
    return role(ACCOUNT, f"{name}-node", trust=EC2_TRUST, policies=policies)


def _arn(name: str) -> str:
    return f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{name}"


def _cluster(name: str, *groups: NodeGroup) -> Cluster:
    """Three nodes read, all labelled as node group "open"."""
    return cluster(
        arn=_arn(name),
        name=name,
        node_groups=groups,
        kube=kube(nodes=nodes(REGION, 3, "open")),
    )


def _fleet() -> list[Cluster]:
    def ng(cluster_name: str, group: str, **kw: Any) -> NodeGroup:
        return node_group(group, f"arn:aws:iam::{ACCOUNT}:role/{cluster_name}-node", **kw)

    unread = replace(ng("gamma", "unread"), metadata_options=None)
    off = replace(
        ng("delta", "off", tokens="optional"),
        metadata_options=MetadataOptions("optional", 2, "disabled"),
    )
    return [
        _cluster(
            "alpha",
            ng("alpha", "open", tokens="optional", count=9),  # 3 nodes read: the list wins
            ng("alpha", "locked"),
            ng("alpha", "hop2", hop=2, kind="self_managed", count=5),
        ),
        _cluster("beta", ng("beta", "open", tokens="optional")),
        _cluster("gamma", unread),
        _cluster("delta", off),
    ]


def test_exposure_matches_the_hand_count() -> None:
    roles = tuple(_role(n, cni=n != "beta") for n in ("alpha", "beta", "gamma", "delta"))
    report = evaluate(inventory(clusters=tuple(_fleet()), roles=roles))
    exposure = report.kpis["exposure"]
    by_cluster = {c["cluster"].rsplit("/", 1)[1]: c for c in exposure.pop("clusters")}
    assert exposure == {
        "clusters_exposed": 1,
        "clusters_exposure_unknown": 1,
        "nodes_exposed": 8,
        "pods_exposed": None,
        "pods_exposed_note": "not counted: cniguard lists aws-node and Pending pods only, "
        "not every pod",
        "actions": ENI_ACTIONS,
    }
    assert sorted(by_cluster) == ["alpha", "gamma"]
    alpha_role = f"arn:aws:iam::{ACCOUNT}:role/alpha-node"
    assert by_cluster["alpha"]["node_groups"] == [
        {"node_group": "open", "node_role": alpha_role, "pods_reach_imds": "yes", "nodes": 3},
        {"node_group": "hop2", "node_role": alpha_role, "pods_reach_imds": "yes", "nodes": 5},
    ]
    assert (by_cluster["alpha"]["nodes_exposed"], by_cluster["alpha"]["node_groups_unknown"]) == (
        8,
        [],
    )
    assert (by_cluster["gamma"]["nodes_exposed"], by_cluster["gamma"]["node_groups_unknown"]) == (
        None,
        ["unread"],
    )


def test_a_migrated_fleet_exposes_nothing() -> None:
    roles = tuple(_role(n, cni=False) for n in ("alpha", "beta", "gamma", "delta"))
    exposure = evaluate(inventory(clusters=tuple(_fleet()), roles=roles)).kpis["exposure"]
    assert (
        exposure["clusters_exposed"],
        exposure["clusters_exposure_unknown"],
        exposure["nodes_exposed"],
        exposure["clusters"],
    ) == (0, 0, 0, [])
