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

Pods (Running, not on the host network, counted per node by the Kubernetes read), in a second
fleet whose nodes are ip-10-0-0-10, -11, -12 (.ec2.internal):

| cluster | node group (IMDS)          | its nodes: Running pods off the host network | exposed pods |
|---------|----------------------------|----------------------------------------------|--------------|
| alpha   | open (optional)            | -10: 4, -11: none, -12: 7                    | 11           |
|         | locked (required, hop 1)   | none labelled                                | 0 (not exposed) |
| epsilon | web (optional)             | -10: 10, -11: 2                              | 12           |
|         | batch (required, hop 1)    | -12: 30                                      | 0 (not exposed) |
| zeta    | open (optional)            | -10: 1 (3 nodes), but a self-managed group (hop 2) too | unknown |

A pod counted on a node no group labels (ip-10-0-9-99: 50) is nobody's. Fleet: 3 clusters
exposed, pods 11 + 12 = 23 without zeta, unknown with it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cniguard.cost.exposure import PODS_UNKNOWN
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
        "pods_exposed": None,  # this fleet's Running pods were not listed
        "pods_exposed_note": PODS_UNKNOWN,
        "actions": ENI_ACTIONS,
    }
    assert sorted(by_cluster) == ["alpha", "gamma"]
    alpha_role = f"arn:aws:iam::{ACCOUNT}:role/alpha-node"
    assert by_cluster["alpha"]["node_groups"] == [
        {
            "node_group": "open",
            "node_role": alpha_role,
            "pods_reach_imds": "yes",
            "nodes": 3,
            "pods": None,
        },
        {
            "node_group": "hop2",
            "node_role": alpha_role,
            "pods_reach_imds": "yes",
            "nodes": 5,
            "pods": None,
        },
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


def _counted(name: str, labels: list[str], counts: dict[int, int], *groups: NodeGroup) -> Cluster:
    """Nodes ip-10-0-0-10.. labelled with ``labels`` (one per node), Running pods per node."""
    named = tuple(
        replace(n, labels={**n.labels, "eks.amazonaws.com/nodegroup": group})
        for n, group in zip(nodes(REGION, len(labels), "-"), labels, strict=True)
    )
    running = {f"ip-10-0-0-{10 + i}.ec2.internal": c for i, c in counts.items()}
    running["ip-10-0-9-99.ec2.internal"] = 50  # a node not in the list: nobody's pods
    state = kube(nodes=named, running_pods_by_node=running)
    return cluster(arn=_arn(name), name=name, node_groups=groups, kube=state)


def _pod_fleet(with_zeta: bool) -> list[Cluster]:
    def ng(cluster_name: str, group: str, **kw: Any) -> NodeGroup:
        return node_group(group, f"arn:aws:iam::{ACCOUNT}:role/{cluster_name}-node", **kw)

    fleet = [
        _counted(
            "alpha",
            ["open", "open", "open"],
            {0: 4, 2: 7},
            ng("alpha", "open", tokens="optional"),
            ng("alpha", "locked"),
        ),
        _counted(
            "epsilon",
            ["web", "web", "batch"],
            {0: 10, 1: 2, 2: 30},
            ng("epsilon", "web", tokens="optional"),
            ng("epsilon", "batch"),
        ),
    ]
    if with_zeta:
        fleet.append(
            _counted(
                "zeta",
                ["open", "open", "open"],
                {0: 1},
                ng("zeta", "open", tokens="optional"),
                ng("zeta", "hop2", hop=2, kind="self_managed", count=2),
            )
        )
    return fleet


def _pod_exposure(with_zeta: bool) -> dict[str, Any]:
    names = ("alpha", "epsilon", "zeta")
    roles = tuple(_role(n, cni=True) for n in names)
    report = evaluate(inventory(clusters=tuple(_pod_fleet(with_zeta)), roles=roles))
    exposure: dict[str, Any] = report.kpis["exposure"]
    return exposure


def test_pods_exposed_match_the_hand_count() -> None:
    exposure = _pod_exposure(with_zeta=False)
    by_cluster = {c["cluster"].rsplit("/", 1)[1]: c for c in exposure["clusters"]}
    assert (
        exposure["clusters_exposed"],
        exposure["nodes_exposed"],
        exposure["pods_exposed"],
        exposure["pods_exposed_note"],
    ) == (2, 5, 23, None)
    assert {n: (c["pods_exposed"], c["pods_exposed_note"]) for n, c in by_cluster.items()} == {
        "alpha": (11, None),
        "epsilon": (12, None),
    }
    assert [
        (g["node_group"], g["nodes"], g["pods"]) for g in by_cluster["epsilon"]["node_groups"]
    ] == [("web", 2, 12)]


def test_a_group_whose_nodes_cannot_be_told_apart_leaves_pods_unknown() -> None:
    exposure = _pod_exposure(with_zeta=True)
    zeta = next(c for c in exposure["clusters"] if c["cluster"].endswith("/zeta"))
    assert [(g["node_group"], g["nodes"], g["pods"]) for g in zeta["node_groups"]] == [
        ("open", 3, 1),
        ("hop2", 2, None),  # self-managed: its nodes carry no node group label
    ]
    assert (zeta["pods_exposed"], zeta["pods_exposed_note"]) == (None, PODS_UNKNOWN)
    assert (exposure["clusters_exposed"], exposure["pods_exposed"]) == (3, None)
    assert exposure["pods_exposed_note"] == PODS_UNKNOWN
