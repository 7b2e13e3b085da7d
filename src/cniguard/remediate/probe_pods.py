"""Which node groups `cniguard verify` tests, and the scratch namespace and test pods it creates.

Pure: node JSON in, manifests out. A group is what decides a node's CNI identity in practice (its
node role, launch template and IMDS settings), read from the node's labels:

- ``eks.amazonaws.com/nodegroup``: a managed node group (kind ``managed``);
- ``karpenter.sh/nodepool`` (older Karpenter: ``karpenter.sh/provisioner-name``): ``karpenter``;
- otherwise a self-managed set (kind ``self-managed``) keyed by eksctl's
  ``alpha.eksctl.io/nodegroup-name`` when present, else by ``node.kubernetes.io/instance-type``,
  else by the node's own ``kubernetes.io/hostname``.

Only nodes aws-node runs on count: Linux, not Fargate, EKS Auto Mode or hybrid nodes (the
DaemonSet's own affinity). A group can be tested only on a Ready, schedulable node.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

JsonDict = dict[str, Any]
GroupKind = Literal["managed", "karpenter", "self-managed"]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "cniguard"
NAME_LABEL = "app.kubernetes.io/name"
PROBE_NAME = "cniguard-verify"
RUN_LABEL = "cniguard.io/verify-run"
GROUP_ANNOTATION = "cniguard.io/group"
KIND_ANNOTATION = "cniguard.io/group-kind"
NAMESPACE_PREFIX = "cniguard-verify-"

NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
NODEPOOL_LABELS = ("karpenter.sh/nodepool", "karpenter.sh/provisioner-name")
HOSTNAME_LABEL = "kubernetes.io/hostname"
SELF_MANAGED_KEYS = (
    "alpha.eksctl.io/nodegroup-name",
    "node.kubernetes.io/instance-type",
    HOSTNAME_LABEL,
)
COMPUTE_TYPE_LABEL = "eks.amazonaws.com/compute-type"
NO_AWS_NODE_COMPUTE = ("fargate", "auto", "hybrid")
OS_LABELS = ("kubernetes.io/os", "beta.kubernetes.io/os")
# Taints the control plane or autoscalers put on nodes that must not get new pods: a test pod
# never tolerates them, so it lands only where a workload pod could.
SYSTEM_TAINT_PREFIXES = (
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "karpenter.sh/",
)
SYSTEM_TAINT_KEYS = ("ToBeDeletedByClusterAutoscaler", "DeletionCandidateOfClusterAutoscaler")

# Small enough to fit beside any workload; the pause container uses less.
REQUESTS = {"cpu": "10m", "memory": "16Mi"}
LIMITS = {"cpu": "50m", "memory": "32Mi"}


@dataclass(frozen=True)
class Node:
    name: str
    labels: dict[str, str]
    taints: tuple[JsonDict, ...]
    ready: bool
    schedulable: bool


@dataclass(frozen=True)
class NodeGroup:
    kind: GroupKind
    name: str
    key: str  # the label that selects the group's nodes
    value: str
    nodes: tuple[str, ...]  # every node of the group aws-node runs on
    usable: tuple[str, ...]  # the Ready, schedulable ones
    taints: tuple[JsonDict, ...]  # the group's own taints on its usable nodes


def parse_node(item: JsonDict) -> Node:
    metadata = item.get("metadata") or {}
    spec = item.get("spec") or {}
    conditions = (item.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return Node(
        name=str(metadata.get("name", "")),
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        taints=tuple(t for t in spec.get("taints") or [] if isinstance(t, dict)),
        ready=ready,
        schedulable=not spec.get("unschedulable", False),
    )


def runs_aws_node(node: Node) -> bool:
    """aws-node's own DaemonSet affinity: Linux, and not Fargate, Auto Mode or hybrid."""
    os_name = next((node.labels[k] for k in OS_LABELS if k in node.labels), "linux")
    return os_name == "linux" and node.labels.get(COMPUTE_TYPE_LABEL) not in NO_AWS_NODE_COMPUTE


def group_key(node: Node) -> tuple[GroupKind, str, str]:
    """(kind, selecting label, its value) of the group the node belongs to."""
    labels = node.labels
    if NODEGROUP_LABEL in labels:
        return "managed", NODEGROUP_LABEL, labels[NODEGROUP_LABEL]
    for key in NODEPOOL_LABELS:
        if key in labels:
            return "karpenter", key, labels[key]
    for key in SELF_MANAGED_KEYS:
        if key in labels:
            return "self-managed", key, labels[key]
    return "self-managed", HOSTNAME_LABEL, node.name


def group_name(kind: GroupKind, key: str, value: str) -> str:
    """Managed node groups and node pools by their name; self-managed sets by key and value."""
    if kind == "self-managed" and key != SELF_MANAGED_KEYS[0]:
        return f"{key.rsplit('/', 1)[-1]}={value}"
    return value


def node_groups(items: list[JsonDict]) -> list[NodeGroup]:
    """The groups of the nodes aws-node runs on, sorted by kind and name."""
    members: dict[tuple[GroupKind, str, str], list[Node]] = {}
    for node in map(parse_node, items):
        if runs_aws_node(node):
            members.setdefault(group_key(node), []).append(node)
    groups = []
    for (kind, key, value), nodes in members.items():
        usable = sorted((n for n in nodes if n.ready and n.schedulable), key=lambda n: n.name)
        groups.append(
            NodeGroup(
                kind=kind,
                name=group_name(kind, key, value),
                key=key,
                value=value,
                nodes=tuple(sorted(n.name for n in nodes)),
                usable=tuple(n.name for n in usable),
                taints=_own_taints(usable),
            )
        )
    return sorted(groups, key=lambda g: (g.kind, g.name))


def _own_taints(nodes: list[Node]) -> tuple[JsonDict, ...]:
    seen: dict[tuple[str, str], JsonDict] = {}
    for node in nodes:
        for taint in node.taints:
            key = str(taint.get("key", ""))
            if key.startswith(SYSTEM_TAINT_PREFIXES) or key in SYSTEM_TAINT_KEYS:
                continue
            seen.setdefault((key, str(taint.get("effect", ""))), taint)
    return tuple(seen[k] for k in sorted(seen))


def namespace_manifest(run_id: str) -> JsonDict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE_PREFIX + run_id,
            "labels": {MANAGED_BY_LABEL: MANAGER, NAME_LABEL: PROBE_NAME, RUN_LABEL: run_id},
        },
    }


def is_own_namespace(item: JsonDict, run_id: str) -> bool:
    """True only for the scratch namespace of this run, as this run labelled it."""
    metadata = item.get("metadata") or {}
    labels = metadata.get("labels") or {}
    return (
        metadata.get("name") == NAMESPACE_PREFIX + run_id
        and labels.get(MANAGED_BY_LABEL) == MANAGER
        and labels.get(RUN_LABEL) == run_id
    )


def pod_name(group: NodeGroup, suffix: str = "") -> str:
    """A DNS-1123 label unique per group: a readable slug and a hash of kind and name."""
    digest = hashlib.sha256(f"{group.kind}/{group.name}{suffix}".encode()).hexdigest()[:6]
    slug = re.sub(r"[^a-z0-9]+", "-", group.name.lower()).strip("-")[:40].strip("-")
    return f"probe-{slug}-{digest}" if slug else f"probe-{digest}"


def pod_manifest(
    group: NodeGroup,
    *,
    namespace: str,
    run_id: str,
    image: str,
    deadline_seconds: int,
    node: Node | None = None,
) -> JsonDict:
    """A pause pod pinned to the group (and to ``node`` when given) that only needs a pod IP."""
    others = [k for k in (NODEGROUP_LABEL, *NODEPOOL_LABELS) if k != group.key]
    if group.kind == "self-managed":
        others = [NODEGROUP_LABEL, *NODEPOOL_LABELS]
    expressions = [
        {"key": COMPUTE_TYPE_LABEL, "operator": "NotIn", "values": list(NO_AWS_NODE_COMPUTE)},
        *({"key": k, "operator": "DoesNotExist"} for k in others),
    ]
    selector = {"kubernetes.io/os": "linux", group.key: group.value}
    term: JsonDict = {"matchExpressions": expressions}
    if node is not None and HOSTNAME_LABEL in node.labels:
        selector[HOSTNAME_LABEL] = node.labels[HOSTNAME_LABEL]
    elif node is not None:
        term["matchFields"] = [{"key": "metadata.name", "operator": "In", "values": [node.name]}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(group, "@" + node.name if node else ""),
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGER, NAME_LABEL: PROBE_NAME, RUN_LABEL: run_id},
            "annotations": {GROUP_ANNOTATION: group.name, KIND_ANNOTATION: group.kind},
        },
        "spec": {
            "nodeSelector": selector,
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
                }
            },
            "tolerations": [
                {"key": t.get("key"), "operator": "Exists", "effect": t.get("effect")}
                for t in group.taints
            ],
            "hostNetwork": False,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "activeDeadlineSeconds": deadline_seconds,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65535,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "pause",
                    "image": image,
                    "resources": {"requests": dict(REQUESTS), "limits": dict(LIMITS)},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
