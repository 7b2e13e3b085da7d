"""The inventory: every fact the rules may look at, as frozen, JSON-serialisable data.

Collectors (live AWS, Kubernetes, CloudTrail, IaC, the demo fleet) all build this one model, so a
rule is written once and serves every source.

Convention for "could not read": a field that is ``None`` was not read (the collector records a
:class:`Gap` saying why); an empty tuple means "read, and there is none". Rules must never treat
``None`` as empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cniguard.model.common import JsonDict, Origin, SourceKind
from cniguard.model.kube import KubeState

IpFamily = Literal["ipv4", "ipv6"]
InventoryKind = Literal["live", "iac", "demo"]
NodeKind = Literal["managed", "self_managed", "karpenter", "auto", "unknown"]
NodeOs = Literal["linux", "windows"]


@dataclass(frozen=True)
class Gap:
    """Something in scope that could not be read. Rules that need it report ``unknown``."""

    what: str  # e.g. "iam:role", "eks:addons", "k8s:pods", "cloudtrail"
    reason: str  # human text, e.g. "AccessDenied: not authorized to perform eks:ListAddons"
    account: str | None = None
    region: str | None = None
    cluster: str | None = None  # cluster ARN (or IaC id) the gap concerns, None = account/region
    operation: str | None = None  # e.g. "eks:ListAddons"
    error_code: str | None = None
    resource: str | None = None  # e.g. the role ARN or file path
    line: int | None = None


@dataclass(frozen=True)
class PolicyAttachment:
    """A managed policy attached to a role, or an inline policy embedded in it."""

    name: str
    kind: Literal["managed", "inline"]
    arn: str | None = None  # managed policies only
    document: JsonDict | str | None = None  # None: could not read the document
    version: str | None = None  # managed policies: the default version id
    origin: Origin | None = None


@dataclass(frozen=True)
class Role:
    """An IAM role: who may assume it (trust) and what it grants (policies, boundary)."""

    arn: str
    name: str
    account: str
    exists: bool = True  # False: the role was looked up and does not exist
    trust_policy: JsonDict | str | None = None
    policies: tuple[PolicyAttachment, ...] | None = None
    permissions_boundary_arn: str | None = None
    permissions_boundary: JsonDict | str | None = None  # document of the boundary, if any
    tags: dict[str, str] | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class OidcProvider:
    """An IAM OIDC identity provider (the anchor IRSA trusts)."""

    arn: str
    url: str  # without scheme, as IAM returns it
    client_ids: tuple[str, ...]
    account: str
    origin: Origin | None = None


@dataclass(frozen=True)
class MetadataOptions:
    """EC2 instance metadata settings that decide whether pods can read node credentials."""

    http_tokens: Literal["required", "optional"] | None = None
    hop_limit: int | None = None
    http_endpoint: Literal["enabled", "disabled"] | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class NodeGroup:
    """A source of worker nodes and the IAM role they run with.

    Managed node groups, self-managed groups (ASG), Karpenter node pools and Auto Mode all map here.
    """

    name: str
    kind: NodeKind
    role_arn: str | None  # None: unknown
    os: NodeOs = "linux"
    ami_type: str | None = None
    metadata_options: MetadataOptions | None = None  # None: not read
    instance_count: int | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class FargateProfile:
    name: str
    pod_execution_role_arn: str | None
    origin: Origin | None = None


@dataclass(frozen=True)
class Addon:
    """An EKS managed add-on (vpc-cni is the one that matters here)."""

    name: str
    version: str | None = None
    service_account_role_arn: str | None = None
    pod_identity_association_arns: tuple[str, ...] = ()
    configuration_values: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class PodIdentityAssociation:
    arn: str | None
    namespace: str
    service_account: str
    role_arn: str | None
    target_role_arn: str | None = None
    owner_arn: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class AccessEntry:
    principal_arn: str
    type: str  # STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX, EC2
    origin: Origin | None = None


@dataclass(frozen=True)
class Cluster:
    """One EKS cluster and everything attached to it that the CNI audit needs."""

    arn: str  # for IaC: a stable id such as "tf:aws_eks_cluster.main"
    name: str
    account: str
    region: str
    version: str | None = None
    platform_version: str | None = None
    ip_family: IpFamily | None = None
    oidc_issuer: str | None = None  # https://oidc.eks.<region>.amazonaws.com/id/<ID>
    auto_mode: bool | None = None
    auto_mode_node_role_arn: str | None = None
    authentication_mode: str | None = None
    tags: dict[str, str] | None = None
    node_groups: tuple[NodeGroup, ...] | None = None
    fargate_profiles: tuple[FargateProfile, ...] | None = None
    addons: tuple[Addon, ...] | None = None
    pod_identity_associations: tuple[PodIdentityAssociation, ...] | None = None
    access_entries: tuple[AccessEntry, ...] | None = None
    kube: KubeState | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class CloudTrailEvent:
    """A management event from CloudTrail (IAM, EKS or EC2) that may explain a CNI outage."""

    event_id: str
    event_time: str  # ISO-8601, UTC
    event_name: str
    event_source: str
    account: str
    region: str
    principal_arn: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    request_parameters: JsonDict | None = None
    error_code: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class CloudTrailScope:
    """Which account/region CloudTrail was read for, and over what window."""

    account: str
    region: str
    start: str
    end: str


@dataclass(frozen=True)
class Inventory:
    """Everything collected in one run. ``sources`` says which kinds of collection were attempted:
    a rule needing Kubernetes state is ``unknown`` when ``k8s`` was attempted and failed (or was
    not attempted on a live scan), and not evaluated at all for IaC.
    """

    kind: InventoryKind
    generated_at: str
    clusters: tuple[Cluster, ...] = ()
    roles: tuple[Role, ...] = ()  # a role ARN that is referenced but absent here was not read
    oidc_providers: tuple[OidcProvider, ...] = ()
    # accounts whose provider list was read in full: only there does "no provider" mean absent
    oidc_providers_read: tuple[str, ...] = ()
    cloudtrail_events: tuple[CloudTrailEvent, ...] = ()
    cloudtrail_scopes: tuple[CloudTrailScope, ...] = ()
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    gaps: tuple[Gap, ...] = ()
    sources: tuple[SourceKind, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
