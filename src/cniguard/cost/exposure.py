"""Exposure (risk, not money): the workloads that can act with the CNI's ENI permissions.

A node role that grants the ENI-changing actions hands them to every pod that can read the
node's instance credentials from IMDS. The rule (domain.md A4, the same as CNI002's):
a node group's pods reach IMDS unless the endpoint is disabled, or IMDSv2 is required
(``HttpTokens=required``) with a hop limit of 1 (a pod's request crosses a second hop and dies).
A group whose metadata options were not read counts as unknown, never as safe.

What is counted per cluster: the node groups, nodes and pods so exposed (Running pods not on
the host network, from the per-node counts the Kubernetes read keeps), and the ENI actions.
A count that was not read is unknown (None), never 0.
"""

from __future__ import annotations

from typing import Any, Literal

from cniguard.analysis import ClusterView
from cniguard.iam.actions import MUTATING_ACTIONS
from cniguard.model.inventory import NodeGroup

NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
PODS_UNKNOWN = (
    "unknown: the Running pods were not listed, or an exposed node group's nodes cannot be told "
    "apart (only managed node groups label their nodes)"
)
Reach = Literal["yes", "no", "unknown"]


def pods_reach_imds(group: NodeGroup) -> Reach:
    """Whether pods (not on the host network) on ``group`` can read the node role's credentials."""
    opts = group.metadata_options
    if opts is None:
        return "unknown"
    if opts.http_endpoint == "disabled":
        return "no"
    if opts.http_tokens == "optional" or (opts.hop_limit is not None and opts.hop_limit > 1):
        return "yes"
    if opts.http_tokens == "required" and opts.hop_limit == 1:
        return "no"
    return "unknown"


def _nodes(view: ClusterView, group: NodeGroup) -> int | None:
    """Nodes of ``group``: counted from the node list when read, else the group's count."""
    if view.kube is not None and view.kube.nodes is not None and group.kind == "managed":
        return sum(1 for n in view.kube.nodes if n.labels.get(NODEGROUP_LABEL) == group.name)
    return group.instance_count


def _pods(view: ClusterView, group: NodeGroup) -> int | None:
    """Running pods off the host network on ``group``'s nodes; None when they were not counted
    or the group's nodes are not known by label (self-managed groups, Karpenter, Auto Mode)."""
    kube = view.kube
    if kube is None or kube.nodes is None or kube.running_pods_by_node is None:
        return None
    if group.kind != "managed":
        return None
    counts = kube.running_pods_by_node
    mine = (n.name for n in kube.nodes if n.labels.get(NODEGROUP_LABEL) == group.name)
    return sum(counts.get(name, 0) for name in mine)


def _total(counts: list[int | None]) -> int | None:
    """The sum; None when one is unknown or there is nothing certain to add."""
    return None if None in counts or not counts else sum(c for c in counts if c is not None)


def cluster_exposure(view: ClusterView) -> dict[str, Any] | None:
    """The cluster's exposure block; None when no node role grants an ENI-changing action."""
    exposed: list[dict[str, Any]] = []
    unknown: list[str] = []
    actions: set[str] = set()
    for use in view.node_roles or ():
        grant = view.role_grant(use.role_arn)
        if grant is None:
            continue
        granted = grant.granted(MUTATING_ACTIONS)
        if not granted:
            continue
        for group in use.node_groups:
            reach = pods_reach_imds(group)
            if reach == "no":
                continue
            actions.update(granted)
            if reach == "unknown":
                unknown.append(group.name)
            exposed.append(
                {
                    "node_group": group.name,
                    "node_role": use.role_arn,
                    "pods_reach_imds": reach,
                    "nodes": _nodes(view, group),
                    "pods": _pods(view, group),
                }
            )
    if not exposed:
        return None
    certain = [e for e in exposed if e["pods_reach_imds"] == "yes"]
    pods = _total([e["pods"] for e in certain])
    return {
        "cluster": view.cluster.arn,
        "actions": sorted(actions),
        "node_groups": exposed,
        # nodes (pods) that certainly reach the credentials; None when a count was not read or
        # no group is certainly exposed (only unknown ones)
        "nodes_exposed": _total([e["nodes"] for e in certain]),
        "node_groups_unknown": sorted(unknown),
        "pods_exposed": pods,
        "pods_exposed_note": PODS_UNKNOWN if pods is None and certain else None,
    }


def fleet_exposure(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's exposure section over every cluster's block."""
    certain = [b for b in blocks if any(g["pods_reach_imds"] == "yes" for g in b["node_groups"])]
    nodes = [b["nodes_exposed"] for b in certain]
    pods = [b["pods_exposed"] for b in certain]
    return {
        "clusters_exposed": len(certain),
        "clusters_exposure_unknown": len(blocks) - len(certain),
        "nodes_exposed": None if None in nodes else sum(nodes),
        "pods_exposed": None if None in pods else sum(pods),
        "pods_exposed_note": PODS_UNKNOWN if None in pods else None,
        "actions": sorted({a for b in certain for a in b["actions"]}),
        "clusters": blocks,
    }
