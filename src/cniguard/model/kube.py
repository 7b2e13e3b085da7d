"""Kubernetes state of one cluster, reduced to the fields the CNI audit reads.

Each collection is ``None`` when it could not be read (RBAC, timeout, not exported) and an empty
tuple when it was read and is empty. Collectors fill these from the live API or from
``kubectl get -o json`` exports; the shapes they read are the real API's.
"""

from __future__ import annotations

from dataclasses import dataclass

from cniguard.model.common import Origin


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None  # None: from valueFrom (fieldRef, secret), not a literal


@dataclass(frozen=True)
class Container:
    name: str
    image: str | None = None
    env: tuple[EnvVar, ...] = ()
    ready: bool | None = None
    restart_count: int | None = None
    waiting_reason: str | None = None

    def env_value(self, name: str) -> str | None:
        """The literal value of ``name`` ("" when set through valueFrom); None when absent."""
        for var in self.env:
            if var.name == name:
                return var.value if var.value is not None else ""
        return None

    def env_by_reference(self, name: str) -> bool:
        """``name`` is set, but through valueFrom: its value is not known from the pod spec."""
        return any(var.name == name and var.value is None for var in self.env)


@dataclass(frozen=True)
class DaemonSet:
    namespace: str
    name: str
    service_account: str
    containers: tuple[Container, ...] = ()
    desired: int | None = None
    ready: int | None = None
    unavailable: int | None = None
    generation: int | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str
    annotations: dict[str, str]
    labels: dict[str, str] | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    node_name: str | None = None
    service_account: str | None = None
    labels: dict[str, str] | None = None
    phase: str | None = None
    containers: tuple[Container, ...] = ()
    created_at: str | None = None  # ISO-8601
    ready: bool | None = None
    owner_kind: str | None = None
    owner_name: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class Event:
    namespace: str
    involved_kind: str
    involved_name: str
    reason: str
    message: str
    type: str = "Normal"
    count: int = 1
    first_seen: str | None = None
    last_seen: str | None = None
    reporting_component: str | None = None
    action: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class Node:
    name: str
    labels: dict[str, str]
    provider_id: str | None = None
    ready: bool | None = None
    ready_reason: str | None = None
    ready_message: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class AwsAuthRole:
    """One ``mapRoles`` entry of the ``kube-system/aws-auth`` ConfigMap."""

    role_arn: str
    username: str | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class KubeState:
    """What was read from the cluster's Kubernetes API (or its exports) and when."""

    collected_at: str | None = None  # ISO-8601; "now" for the age of stuck pods
    context: str | None = None
    daemonsets: tuple[DaemonSet, ...] | None = None
    service_accounts: tuple[ServiceAccount, ...] | None = None
    pods: tuple[Pod, ...] | None = None  # aws-node pods and pods not Running (stuck)
    events: tuple[Event, ...] | None = None
    nodes: tuple[Node, ...] | None = None
    aws_auth: tuple[AwsAuthRole, ...] | None = None  # None: not read; () : no ConfigMap/entries
    # `pods` holds aws-node pods and stuck workload pods; an export may hold only one of the two,
    # and the other then counts as not read.
    aws_node_pods_read: bool = True
    workload_pods_read: bool = True
    # Running pods not on the host network, counted per node (spec.nodeName): the pods that can
    # reach the node's IMDS credentials. Only the counts are kept, never the pods. None: the list
    # of every Running pod was not read (exposure unknown); a node absent from it runs none.
    running_pods_by_node: dict[str, int] | None = None
