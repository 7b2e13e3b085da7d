"""Per-cluster drafts the reader tasks fill in, and their assembly into frozen model objects.

Each part of a draft is written by one task. A part stays ``None`` until it has been read in full,
and a part whose read failed anywhere is recorded in ``failed`` so the assembled field is ``None``
(not read), never a partial list that would look complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import (
    AccessEntry,
    Addon,
    Cluster,
    FargateProfile,
    MetadataOptions,
    NodeGroup,
    NodeKind,
    NodeOs,
    PodIdentityAssociation,
)
from cniguard.model.kube import KubeState

T = TypeVar("T")
Part = Literal["nodegroups", "fargate", "addons", "pod_identity", "access_entries"]


@dataclass(frozen=True)
class InstanceFact:
    """One EC2 instance tagged for a cluster, reduced to what decides its node identity."""

    instance_id: str
    cluster_name: str
    profile_arn: str | None
    metadata: MetadataOptions
    os: NodeOs
    nodegroup: str | None  # eks:nodegroup-name: a managed node group's instance
    nodepool: str | None  # karpenter.sh/nodepool
    asg: str | None  # aws:autoscaling:groupName


@dataclass
class ClusterDraft:
    name: str
    account: str
    region: str
    partition: str
    info: JsonDict | None = None  # describe_cluster's "cluster"
    managed: list[NodeGroup] | None = None
    fargate: list[FargateProfile] | None = None
    addons: list[Addon] | None = None
    pod_identity: list[PodIdentityAssociation] | None = None
    access_entries: list[AccessEntry] | None = None
    instances: list[InstanceFact] | None = None  # None: EC2 instances of the region not read
    instance_roles: dict[str, str | None] = field(default_factory=dict)  # profile ARN -> role
    kube: KubeState | None = None
    failed: set[Part] = field(default_factory=set)

    @property
    def arn(self) -> str:
        if self.info and self.info.get("arn"):
            return str(self.info["arn"])
        return f"arn:{self.partition}:eks:{self.region}:{self.account}:cluster/{self.name}"

    def origin(self, api: str) -> Origin:
        return Origin("aws", account=self.account, region=self.region, api=api)


def merge_metadata(options: list[MetadataOptions]) -> MetadataOptions | None:
    """The most exposed of several settings: one tokenless or higher-hop source decides.

    An unknown value anywhere makes the merged value unknown unless a known value already
    exposes (``optional`` tokens), so nothing unread reads as protected.
    """
    if not options:
        return None
    tokens = [o.http_tokens for o in options]
    if "optional" in tokens:
        http_tokens: Literal["required", "optional"] | None = "optional"
    elif all(t == "required" for t in tokens):
        http_tokens = "required"
    else:
        http_tokens = None
    hops = [o.hop_limit for o in options]
    hop_limit = None if any(h is None for h in hops) else max(h for h in hops if h is not None)
    endpoints = [o.http_endpoint for o in options]
    http_endpoint: Literal["enabled", "disabled"] | None = (
        "enabled" if "enabled" in endpoints else endpoints[0] if len(set(endpoints)) == 1 else None
    )
    deciding = [o for o in options if (o.http_tokens, o.hop_limit) == (http_tokens, hop_limit)]
    origin = (deciding or options)[0].origin  # a source that shows the merged exposure
    return MetadataOptions(http_tokens, hop_limit, http_endpoint, origin)


def _self_managed_groups(draft: ClusterDraft, auto_role: str | None) -> list[NodeGroup]:
    groups: dict[tuple[NodeKind, str, str | None], list[InstanceFact]] = {}
    for inst in draft.instances or []:
        if inst.nodegroup is not None:
            continue
        role = draft.instance_roles.get(inst.profile_arn) if inst.profile_arn else None
        kind: NodeKind
        if auto_role is not None and role == auto_role:
            kind, name = "auto", "auto-mode"
        elif inst.nodepool is not None:
            kind, name = "karpenter", inst.nodepool
        else:
            kind, name = "self_managed", inst.asg or f"instances:{inst.profile_arn or 'no-profile'}"
        groups.setdefault((kind, name, role), []).append(inst)
    origin = draft.origin("ec2:DescribeInstances")
    return [
        NodeGroup(
            name=name,
            kind=kind,
            role_arn=role,
            os="windows" if any(i.os == "windows" for i in members) else "linux",
            metadata_options=merge_metadata([i.metadata for i in members]),
            instance_count=len(members),
            origin=origin,
        )
        for (kind, name, role), members in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
        )
    ]


UNREAD_INSTANCES = "(EC2 instances not read: self-managed and Karpenter nodes unknown)"


def _node_groups(draft: ClusterDraft, auto_role: str | None) -> tuple[NodeGroup, ...] | None:
    if draft.managed is None or "nodegroups" in draft.failed:
        return None
    merged: list[NodeGroup] = []
    for group in sorted(draft.managed, key=lambda g: g.name):
        if draft.instances is None:
            merged.append(replace(group, instance_count=None))
            continue
        members = [i.metadata for i in draft.instances if i.nodegroup == group.name]
        sources = members + ([group.metadata_options] if group.metadata_options else [])
        merged.append(
            replace(group, metadata_options=merge_metadata(sources), instance_count=len(members))
        )
    if draft.instances is None:
        # Self-managed, Karpenter and Auto Mode nodes are only seen through EC2: without it the
        # list is incomplete, and a placeholder with an unknown role makes the rules say so.
        unread = NodeGroup(
            name=UNREAD_INSTANCES,
            kind="unknown",
            role_arn=None,
            origin=draft.origin("ec2:DescribeInstances"),
        )
        return (*merged, unread)
    return tuple(merged + _self_managed_groups(draft, auto_role))


def _tuple_or_none(draft: ClusterDraft, name: Part, items: list[T] | None) -> tuple[T, ...] | None:
    if items is None or name in draft.failed:
        return None
    return tuple(items)


def assemble(draft: ClusterDraft) -> Cluster:
    """The frozen cluster: described fields when describe_cluster worked, each part as read."""
    info = draft.info or {}
    compute = info.get("computeConfig") or {}
    auto_role = compute.get("nodeRoleArn") if compute.get("enabled") else None
    network = info.get("kubernetesNetworkConfig") or {}
    ip_family = network.get("ipFamily")
    described = draft.info is not None
    return Cluster(
        arn=draft.arn,
        name=draft.name,
        account=draft.account,
        region=draft.region,
        version=info.get("version"),
        platform_version=info.get("platformVersion"),
        ip_family=ip_family if ip_family in ("ipv4", "ipv6") else None,
        oidc_issuer=((info.get("identity") or {}).get("oidc") or {}).get("issuer"),
        auto_mode=bool(compute.get("enabled")) if described else None,
        auto_mode_node_role_arn=auto_role,
        authentication_mode=(info.get("accessConfig") or {}).get("authenticationMode"),
        tags=dict(info.get("tags") or {}) if described else None,
        node_groups=_node_groups(draft, auto_role),
        fargate_profiles=_tuple_or_none(draft, "fargate", draft.fargate),
        addons=_tuple_or_none(draft, "addons", draft.addons),
        pod_identity_associations=_tuple_or_none(draft, "pod_identity", draft.pod_identity),
        access_entries=_tuple_or_none(draft, "access_entries", draft.access_entries),
        kube=draft.kube,
        origin=draft.origin("eks:DescribeCluster"),
    )
