"""Kubernetes API JSON -> model.kube, shared by the export reader and the live client.

:class:`KubeCollection` gathers the objects of one cluster from any number of sources, keeps the
ones the audit needs (the aws-node DaemonSet, kube-system ServiceAccounts, aws-node pods, stuck
pods, CNI events, nodes, aws-auth) and knows which kinds were read at all, so that
:meth:`KubeCollection.state` can tell "read, none" (``()``) from "not read" (``None``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from cniguard.collect import kube_shapes as shapes
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import Gap
from cniguard.model.kube import (
    AwsAuthRole,
    Container,
    DaemonSet,
    EnvVar,
    Event,
    KubeState,
    Node,
    Pod,
    ServiceAccount,
)

KubeField = Literal["daemonsets", "service_accounts", "pods", "events", "nodes", "aws_auth"]

KIND_FIELDS: dict[str, KubeField] = {
    "DaemonSet": "daemonsets",
    "ServiceAccount": "service_accounts",
    "Pod": "pods",
    "Event": "events",
    "Node": "nodes",
    "ConfigMap": "aws_auth",
}
GAP_WHAT: dict[KubeField, str] = {
    "daemonsets": "k8s:daemonsets",
    "service_accounts": "k8s:serviceaccounts",
    "pods": "k8s:pods",
    "events": "k8s:events",
    "nodes": "k8s:nodes",
    "aws_auth": "k8s:aws-auth",
}

AWS_NODE = "aws-node"
KUBE_SYSTEM = "kube-system"
AWS_AUTH = "aws-auth"
# Waiting reasons of a pod whose sandbox (network) was never set up. Pods with init containers
# show PodInitializing instead of ContainerCreating while their sandbox fails.
SANDBOX_WAITING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})
CNI_EVENT_REASONS = frozenset({"FailedCreatePodSandBox", "MissingIAMPermissions"})
AWS_NODE_EVENT_REASONS = frozenset({"Unhealthy"})

# Past this many malformed objects of one kind (which is unknown after the first), the rest are
# not validated: a hostile export with a million of them stays fast.
MAX_MALFORMED = 10

_ShapeT = TypeVar("_ShapeT", bound=BaseModel)
_MAP_ROLES = TypeAdapter(list[shapes.MapRole])


class MalformedObject(ValueError):
    """A known kind whose fields have the wrong types or an aws-auth whose YAML is invalid."""


def _validate(model: type[_ShapeT], obj: JsonDict) -> _ShapeT:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise MalformedObject(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(object)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _env(var: shapes.EnvVar) -> EnvVar:
    # An env entry with neither value nor valueFrom is the empty string in Kubernetes.
    if var.value is not None:
        return EnvVar(var.name, var.value)
    return EnvVar(var.name, None if var.value_from is not None else "")


def _container(
    spec: shapes.ContainerSpec, status: shapes.ContainerStatus | None = None
) -> Container:
    waiting = status.state.waiting if status and status.state else None
    return Container(
        name=spec.name,
        image=spec.image,
        env=tuple(_env(var) for var in spec.env or ()),
        ready=status.ready if status else None,
        restart_count=status.restart_count if status else None,
        waiting_reason=waiting.reason if waiting else None,
    )


def _condition(conditions: list[shapes.Condition] | None, kind: str) -> shapes.Condition | None:
    return next((c for c in conditions or () if c.type == kind), None)


def _status_bool(condition: shapes.Condition | None) -> bool | None:
    if condition is None or condition.status not in ("True", "False"):
        return None
    return condition.status == "True"


def parse_daemonset(obj: JsonDict, origin: Origin | None) -> DaemonSet:
    ds = _validate(shapes.DaemonSetObject, obj)
    pod_spec = ds.spec.template.spec
    return DaemonSet(
        namespace=ds.metadata.namespace or "default",
        name=ds.metadata.name or "",
        service_account=pod_spec.service_account_name or pod_spec.service_account or "default",
        containers=tuple(_container(c) for c in pod_spec.containers or ()),
        desired=ds.status.desired_number_scheduled,
        ready=ds.status.number_ready,
        unavailable=ds.status.number_unavailable,
        generation=ds.metadata.generation,
        origin=origin,
    )


def parse_service_account(obj: JsonDict, origin: Origin | None) -> ServiceAccount:
    sa = _validate(shapes.ServiceAccountObject, obj)
    return ServiceAccount(
        namespace=sa.metadata.namespace or "default",
        name=sa.metadata.name or "",
        annotations=dict(sa.metadata.annotations or {}),
        labels=dict(sa.metadata.labels) if sa.metadata.labels is not None else None,
        origin=origin,
    )


def _pod(pod: shapes.PodObject, origin: Origin | None) -> Pod:
    statuses = {s.name: s for s in pod.status.container_statuses or ()}
    owners = pod.metadata.owner_references or []
    owner = next((o for o in owners if o.controller), owners[0] if owners else None)
    return Pod(
        namespace=pod.metadata.namespace or "default",
        name=pod.metadata.name or "",
        node_name=pod.spec.node_name,
        service_account=pod.spec.service_account_name or pod.spec.service_account,
        labels=dict(pod.metadata.labels) if pod.metadata.labels is not None else None,
        phase=pod.status.phase,
        containers=tuple(_container(c, statuses.get(c.name)) for c in pod.spec.containers or ()),
        created_at=pod.metadata.creation_timestamp,
        ready=_status_bool(_condition(pod.status.conditions, "Ready")),
        owner_kind=owner.kind if owner else None,
        owner_name=owner.name if owner else None,
        origin=origin,
    )


def _is_aws_node_pod(pod: Pod) -> bool:
    """Labelled k8s-app=aws-node, or owned by the aws-node DaemonSet (a relabelled chart)."""
    return pod.namespace == KUBE_SYSTEM and (
        (pod.labels or {}).get("k8s-app") == AWS_NODE
        or (pod.owner_kind, pod.owner_name) == ("DaemonSet", AWS_NODE)
    )


def _is_stuck(pod: shapes.PodObject) -> bool:
    """Not Running, and a container waits for its sandbox (the CNI gave the pod no IP)."""
    statuses = (pod.status.container_statuses or []) + (pod.status.init_container_statuses or [])
    return pod.status.phase != "Running" and any(
        s.state and s.state.waiting and s.state.waiting.reason in SANDBOX_WAITING_REASONS
        for s in statuses
    )


def parse_event(obj: JsonDict, origin: Origin | None) -> Event:
    """Reads a core/v1 Event or, by its apiVersion, an events.k8s.io/v1 one."""
    if str(obj.get("apiVersion", "")).startswith("events.k8s.io/"):
        new = _validate(shapes.EventsV1EventObject, obj)
        return Event(
            namespace=new.metadata.namespace or new.regarding.namespace or "default",
            involved_kind=new.regarding.kind or "",
            involved_name=new.regarding.name or "",
            reason=new.reason or "",
            message=new.note or "",
            type=new.type or "Normal",
            count=(new.series.count if new.series else None) or new.deprecated_count or 1,
            first_seen=new.event_time or new.deprecated_first_timestamp,
            last_seen=(new.series.last_observed_time if new.series else None)
            or new.deprecated_last_timestamp
            or new.event_time,
            reporting_component=new.reporting_controller,
            action=new.action or None,
            origin=origin,
        )
    core = _validate(shapes.CoreEventObject, obj)
    return Event(
        namespace=core.metadata.namespace or core.involved_object.namespace or "default",
        involved_kind=core.involved_object.kind or "",
        involved_name=core.involved_object.name or "",
        reason=core.reason or "",
        message=core.message or "",
        type=core.type or "Normal",
        count=core.count or (core.series.count if core.series else None) or 1,
        first_seen=core.first_timestamp or core.event_time,
        last_seen=core.last_timestamp
        or (core.series.last_observed_time if core.series else None)
        or core.event_time,
        reporting_component=core.reporting_component
        or (core.source.component if core.source else None),
        action=core.action or None,
        origin=origin,
    )


def is_cni_event(event: Event) -> bool:
    """Sandbox failures anywhere, aws-node's own MissingIAMPermissions, aws-node probe failures."""
    if event.reason in CNI_EVENT_REASONS:
        return True
    return (
        event.reason in AWS_NODE_EVENT_REASONS
        and event.involved_kind == "Pod"
        and event.namespace == KUBE_SYSTEM
        and event.involved_name.startswith(AWS_NODE + "-")
    )


def parse_node(obj: JsonDict, origin: Origin | None) -> Node:
    node = _validate(shapes.NodeObject, obj)
    ready = _condition(node.status.conditions, "Ready")
    return Node(
        name=node.metadata.name or "",
        labels=dict(node.metadata.labels or {}),
        provider_id=node.spec.provider_id,
        ready=_status_bool(ready),
        ready_reason=ready.reason if ready else None,
        ready_message=ready.message if ready else None,
        origin=origin,
    )


def parse_aws_auth(obj: JsonDict) -> tuple[AwsAuthRole, ...]:
    """The ``mapRoles`` of the aws-auth ConfigMap (a YAML string inside the JSON)."""
    config_map = _validate(shapes.ConfigMapObject, obj)
    text = (config_map.data or {}).get("mapRoles")
    if not text:
        return ()
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MalformedObject(f"data.mapRoles is not valid YAML: {exc}") from None
    if loaded is None:
        return ()
    try:
        entries = _MAP_ROLES.validate_python(loaded)
    except ValidationError as exc:
        raise MalformedObject(f"data.mapRoles: {_first_error(exc)}") from None
    return tuple(AwsAuthRole(e.rolearn, e.username, tuple(e.groups or ())) for e in entries)


def _meta_str(obj: JsonDict, key: str) -> str:
    meta = obj.get("metadata")
    value = meta.get(key) if isinstance(meta, dict) else None
    return value if isinstance(value, str) else ""


@dataclass
class KubeCollection:
    """The objects of one cluster gathered so far, and which kinds were read (fail closed)."""

    cluster: str
    read: set[KubeField] = field(default_factory=set)
    broken: set[KubeField] = field(default_factory=set)
    gaps: list[Gap] = field(default_factory=list)
    _daemonsets: dict[tuple[str, str], DaemonSet] = field(default_factory=dict, init=False)
    _service_accounts: dict[tuple[str, str], ServiceAccount] = field(
        default_factory=dict, init=False
    )
    _pods: dict[tuple[str, str], Pod] = field(default_factory=dict, init=False)
    _events: dict[tuple[str, str], Event] = field(default_factory=dict, init=False)
    _nodes: dict[str, Node] = field(default_factory=dict, init=False)
    _aws_auth: tuple[AwsAuthRole, ...] = field(default=(), init=False)
    # which pods were listed: "aws-node" (kube-system) and/or "workloads" (other namespaces);
    # a live read lists both
    pod_scopes: set[str] = field(default_factory=set)
    # every Running pod (not on the host network) was listed: its counts per node are complete
    running_read: bool = False
    _running: dict[tuple[str, str], str] = field(default_factory=dict, init=False)  # pod -> node
    _malformed: dict[KubeField, int] = field(default_factory=dict, init=False)
    _unexamined: set[KubeField] = field(default_factory=set, init=False)

    def add(
        self, kind: str, obj: JsonDict, origin: Origin | None, *, resource: str | None = None
    ) -> None:
        """Keeps ``obj`` (a known kind) if the audit needs it; a malformed one voids its kind."""
        kube_field = KIND_FIELDS[kind]
        # ConfigMaps of other namespaces say nothing about whether aws-auth exists.
        if kind != "ConfigMap" or _meta_str(obj, "namespace") == KUBE_SYSTEM:
            self.read.add(kube_field)
        if kind == "Pod":  # kube-system pods speak for aws-node, others for workloads
            system = _meta_str(obj, "namespace") == KUBE_SYSTEM
            self.pod_scopes.add("aws-node" if system else "workloads")
        if self._malformed.get(kube_field, 0) >= MAX_MALFORMED:  # unknown anyway: stop paying
            if kube_field not in self._unexamined:
                self._unexamined.add(kube_field)
                self._void(
                    kind,
                    f"further {kind} objects were not examined after {MAX_MALFORMED} malformed "
                    "ones",
                    resource,
                )
            return
        try:
            self._add(kind, obj, origin)
        except MalformedObject as exc:
            namespace, name = _meta_str(obj, "namespace"), _meta_str(obj, "name")
            label = f"{namespace}/{name}" if namespace else name
            self._malformed[kube_field] = self._malformed.get(kube_field, 0) + 1
            self._void(kind, f"malformed {kind} {label or '(unnamed)'}: {exc}", resource)

    def add_all(
        self, kind: str, items: Iterable[Any], origin: Origin | None, *, resource: str | None
    ) -> None:
        for item in items:
            if isinstance(item, dict):
                self.add(kind, item, origin, resource=resource)
            else:
                self._void(kind, f"a {kind} list item is not an object", resource)

    def add_running(self, items: Iterable[Any], *, resource: str) -> None:
        """The list of every Running pod off the host network: only counted per node. A bad
        item leaves the counts unknown (with a Gap); the pods part is untouched."""
        try:
            for item in items:
                if not isinstance(item, dict):
                    raise MalformedObject("a Pod list item is not an object")
                self._count_running(_validate(shapes.PodObject, item))
        except MalformedObject as exc:
            self.gaps.append(
                Gap(
                    what=GAP_WHAT["pods"],
                    reason=f"running pods not counted: {exc}",
                    cluster=self.cluster,
                    resource=resource,
                )
            )
            return
        self.running_read = True

    def _count_running(self, pod: shapes.PodObject) -> None:
        """A pod that can reach its node's IMDS: Running, scheduled, not on the host network."""
        if pod.status.phase == "Running" and not pod.spec.host_network and pod.spec.node_name:
            key = (pod.metadata.namespace or "default", pod.metadata.name or "")
            self._running[key] = pod.spec.node_name

    def _void(self, kind: str, reason: str, resource: str | None) -> None:
        """Something of ``kind`` could not be used: its part becomes unread, with a Gap."""
        kube_field = KIND_FIELDS[kind]
        self.read.add(kube_field)
        self.broken.add(kube_field)
        self.gaps.append(
            Gap(what=GAP_WHAT[kube_field], reason=reason, cluster=self.cluster, resource=resource)
        )

    def _add(self, kind: str, obj: JsonDict, origin: Origin | None) -> None:
        namespace, name = _meta_str(obj, "namespace"), _meta_str(obj, "name")
        if kind == "DaemonSet":
            ds = parse_daemonset(obj, origin)
            if (ds.namespace, ds.name) == (KUBE_SYSTEM, AWS_NODE):
                self._daemonsets[(ds.namespace, ds.name)] = ds
        elif kind == "ServiceAccount":
            sa = parse_service_account(obj, origin)
            if sa.namespace == KUBE_SYSTEM:
                self._service_accounts[(sa.namespace, sa.name)] = sa
        elif kind == "Pod":
            shape = _validate(shapes.PodObject, obj)
            pod = _pod(shape, origin)
            self._count_running(shape)
            if _is_aws_node_pod(pod) or _is_stuck(shape):
                self._pods[(pod.namespace, pod.name)] = pod
        elif kind == "Event":
            event = parse_event(obj, origin)
            if is_cni_event(event):
                key = name or f"#{len(self._events)}"
                self._events[(event.namespace, key)] = event
        elif kind == "Node":
            node = parse_node(obj, origin)
            self._nodes[node.name] = node
        elif (namespace, name) == (KUBE_SYSTEM, AWS_AUTH):
            self._aws_auth = parse_aws_auth(obj)
        else:  # another ConfigMap: validated so a broken file is still noticed
            _validate(shapes.ConfigMapObject, obj)

    def _field(self, kube_field: KubeField, values: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if kube_field not in self.read or kube_field in self.broken:
            return None
        return values

    def state(self, *, collected_at: str | None, context: str | None) -> KubeState:
        return KubeState(
            collected_at=collected_at,
            context=context,
            daemonsets=self._field("daemonsets", _sorted(self._daemonsets)),
            service_accounts=self._field("service_accounts", _sorted(self._service_accounts)),
            pods=self._field("pods", _sorted(self._pods)),
            events=self._field("events", _sorted(self._events)),
            nodes=self._field("nodes", _sorted(self._nodes)),
            aws_auth=self._field("aws_auth", self._aws_auth),
            # only meaningful when pods were read at all (otherwise `pods` is None)
            aws_node_pods_read="aws-node" in self.pod_scopes or "pods" not in self.read,
            workload_pods_read="workloads" in self.pod_scopes or "pods" not in self.read,
            running_pods_by_node=self._running_counts(),
        )

    def _running_counts(self) -> dict[str, int] | None:
        """Running pods off the host network per node; None unless all of them were listed."""
        if not self.running_read or "pods" in self.broken:
            return None
        return dict(sorted(Counter(self._running.values()).items()))


def _sorted(objects: dict[Any, Any]) -> tuple[Any, ...]:
    return tuple(objects[key] for key in sorted(objects))
