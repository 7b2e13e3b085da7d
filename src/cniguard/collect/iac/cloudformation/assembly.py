"""What the templates of one scan contribute, before it is joined into clusters and roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import (
    AccessEntry,
    Addon,
    Cluster,
    FargateProfile,
    Gap,
    NodeGroup,
    OidcProvider,
    PodIdentityAssociation,
    PolicyAttachment,
)


@dataclass
class RoleDraft:
    arn: str
    name: str
    origin: Origin
    trust: JsonDict | str | None = None
    managed: list[tuple[str, Origin]] = field(default_factory=list)
    inline: list[PolicyAttachment] = field(default_factory=list)
    boundary: str | None = None
    tags: dict[str, str] | None = None


@dataclass
class ClusterDraft:
    cluster: Cluster
    file: str
    defined: bool = True
    node_groups: list[NodeGroup] = field(default_factory=list)
    fargate: list[FargateProfile] = field(default_factory=list)
    addons: list[Addon] = field(default_factory=list)
    associations: list[PodIdentityAssociation] = field(default_factory=list)
    access_entries: list[AccessEntry] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)  # fields a part may change but cannot be tied

    def read(self, name: str) -> Any:
        """A list field as the cluster gets it: None (unknown) when it cannot be told."""
        items: list[Any] = getattr(self, name)
        return tuple(items) if self.defined and name not in self.unknown else None


@dataclass
class Part:
    """Something that belongs to a cluster named by ``cluster_name`` (resolved after all files)."""

    cluster_name: str
    file: str
    item: NodeGroup | FargateProfile | Addon | PodIdentityAssociation | AccessEntry
    profile: str | None = None  # self-managed: the instance profile whose role the nodes run with
    cluster_id: str | None = None  # the cluster the part ``Ref``s in its own template
    unsure: str | None = None  # why the binding it provides may not deploy as read


@dataclass
class NestedStack:
    """A nested stack that was not followed: its resources (node groups included) are unknown."""

    file: str
    logical_id: str
    origin: Origin
    url: str
    names: list[str]  # cluster names passed to it as parameters


@dataclass
class Assembly:
    roles: dict[str, list[RoleDraft]] = field(default_factory=dict)  # by ARN
    managed_documents: dict[str, JsonDict | str | None] = field(default_factory=dict)
    role_policies: list[tuple[str, PolicyAttachment]] = field(default_factory=list)  # role name
    profiles: dict[str, list[str]] = field(default_factory=dict)  # profile name/arn -> role names
    clusters: dict[str, ClusterDraft] = field(default_factory=dict)  # by cluster id
    parts: list[Part] = field(default_factory=list)
    nested: list[NestedStack] = field(default_factory=list)
    scanned: dict[str, str] = field(default_factory=dict)  # normalised path -> file as scanned
    assets: dict[str, Path] = field(default_factory=dict)  # CDK asset hash -> template file
    children: dict[str, set[str]] = field(default_factory=dict)  # template -> nested templates
    karpenter_roles: list[tuple[str, str]] = field(default_factory=list)  # (role arn, file)
    providers: list[OidcProvider] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
