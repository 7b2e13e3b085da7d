"""The Kubernetes API JSON shapes the audit reads, as strict pydantic models.

Only the fields of domain.md C are declared; every one is optional, so an absent field is fine,
while a field of the wrong type rejects the whole object (a Gap) instead of being guessed at.
Exports (``kubectl get -o json``) and the live client (raw JSON) feed the same models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", alias_generator=to_camel, frozen=True)


class OwnerReference(_Shape):
    kind: str | None = None
    name: str | None = None
    controller: bool | None = None


class ObjectMeta(_Shape):
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    creation_timestamp: str | None = None
    owner_references: list[OwnerReference] | None = None
    generation: int | None = None


class EnvVar(_Shape):
    name: str = ""
    value: str | None = None
    value_from: dict[str, Any] | None = None


class ContainerSpec(_Shape):
    name: str = ""
    image: str | None = None
    env: list[EnvVar] | None = None


class WaitingState(_Shape):
    reason: str | None = None


class ContainerState(_Shape):
    waiting: WaitingState | None = None


class ContainerStatus(_Shape):
    name: str = ""
    ready: bool | None = None
    restart_count: int | None = None
    state: ContainerState | None = None


class Condition(_Shape):
    type: str | None = None
    status: str | None = None
    reason: str | None = None
    message: str | None = None


class PodSpec(_Shape):
    node_name: str | None = None
    service_account_name: str | None = None
    service_account: str | None = None  # deprecated alias the API still fills
    containers: list[ContainerSpec] | None = None
    host_network: bool | None = None


class PodStatus(_Shape):
    phase: str | None = None
    conditions: list[Condition] | None = None
    container_statuses: list[ContainerStatus] | None = None
    init_container_statuses: list[ContainerStatus] | None = None


class PodObject(_Shape):
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()


class PodTemplate(_Shape):
    spec: PodSpec = PodSpec()


class DaemonSetSpec(_Shape):
    template: PodTemplate = PodTemplate()


class DaemonSetStatus(_Shape):
    desired_number_scheduled: int | None = None
    number_ready: int | None = None
    number_unavailable: int | None = None


class DaemonSetObject(_Shape):
    metadata: ObjectMeta = ObjectMeta()
    spec: DaemonSetSpec = DaemonSetSpec()
    status: DaemonSetStatus = DaemonSetStatus()


class ServiceAccountObject(_Shape):
    metadata: ObjectMeta = ObjectMeta()


class NodeSpec(_Shape):
    provider_id: str | None = Field(default=None, alias="providerID")


class NodeStatus(_Shape):
    conditions: list[Condition] | None = None


class NodeObject(_Shape):
    metadata: ObjectMeta = ObjectMeta()
    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()


class ConfigMapObject(_Shape):
    metadata: ObjectMeta = ObjectMeta()
    data: dict[str, str] | None = None


class ObjectReference(_Shape):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None


class EventSeries(_Shape):
    count: int | None = None
    last_observed_time: str | None = None


class EventSource(_Shape):
    component: str | None = None


class CoreEventObject(_Shape):
    """``v1`` Event (what ``kubectl get events -o json`` prints)."""

    metadata: ObjectMeta = ObjectMeta()
    involved_object: ObjectReference = ObjectReference()
    reason: str | None = None
    message: str | None = None
    type: str | None = None
    count: int | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    event_time: str | None = None
    series: EventSeries | None = None
    reporting_component: str | None = None
    source: EventSource | None = None
    action: str | None = None


class EventsV1EventObject(_Shape):
    """``events.k8s.io/v1`` Event (how aws-node records ``MissingIAMPermissions``)."""

    metadata: ObjectMeta = ObjectMeta()
    regarding: ObjectReference = ObjectReference()
    reason: str | None = None
    note: str | None = None
    type: str | None = None
    event_time: str | None = None
    series: EventSeries | None = None
    deprecated_count: int | None = None
    deprecated_first_timestamp: str | None = None
    deprecated_last_timestamp: str | None = None
    reporting_controller: str | None = None
    action: str | None = None


class MapRole(_Shape):
    """One entry of aws-auth ``mapRoles`` (keys are lower-case there, not camelCase)."""

    model_config = ConfigDict(alias_generator=None)

    rolearn: str
    username: str | None = None
    groups: list[str] | None = None
