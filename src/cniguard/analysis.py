"""Per-cluster facts derived once from the inventory and shared by every rule.

This is where "what does aws-node really run with" is decided: running aws-node pods' env wins over
the ServiceAccount annotation, which wins over the add-on's ``serviceAccountRoleArn`` and the pod
identity association. Every derived fact can be ``None`` (unknown), and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

from cniguard.config import Config
from cniguard.iam.actions import (
    ALL_CNI_ACTIONS,
    ESSENTIAL_IPV4,
    ESSENTIAL_IPV6,
    essential_actions,
    required_actions,
)
from cniguard.iam.evaluate import DocumentCache, RoleGrant, evaluate_role
from cniguard.iam.trust import (
    TrustAnalysis,
    analyze_irsa_trust,
    analyze_pod_identity_trust,
    issuer_host,
)
from cniguard.model.common import Origin
from cniguard.model.inventory import (
    Addon,
    CloudTrailEvent,
    Cluster,
    Gap,
    Inventory,
    NodeGroup,
    OidcProvider,
    Role,
)
from cniguard.model.kube import DaemonSet, Pod, ServiceAccount

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"
IRSA_ENV = "AWS_ROLE_ARN"
POD_IDENTITY_ENV = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
AWS_NODE = "aws-node"
KUBE_SYSTEM = "kube-system"

_T = TypeVar("_T")


class cached_property(Generic[_T]):
    """functools.cached_property without the per-access lock Python 3.11 takes (a third of the
    engine's time on 10,000 clusters). Views are never shared between threads."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj: object, owner: type | None = None) -> _T:
        value = self.func(obj)
        obj.__dict__[self.name] = value
        return value


BindingKind = Literal["irsa", "pod_identity", "none", "unknown"]


@dataclass(frozen=True)
class Binding:
    """The identity aws-node uses, and which source said so."""

    kind: BindingKind
    role_arn: str | None = None
    source: str | None = (
        None  # "pods", "service_account", "addon", "pod_identity_association", "iac"
    )
    reason: str = ""


@dataclass(frozen=True)
class NodeRoleUse:
    """A role that worker nodes of this cluster run with, and the node groups using it."""

    role_arn: str
    node_groups: tuple[NodeGroup, ...] = ()
    via: tuple[str, ...] = ()  # "node group ng1", "access entry EC2_LINUX", "aws-auth"
    linux: bool = True


@dataclass(frozen=True)
class PodEnvSummary:
    pods: tuple[Pod, ...]
    irsa_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> pod names
    pod_identity: tuple[str, ...] = ()
    without: tuple[str, ...] = ()  # pods with neither: they fall back to the node role
    indirect: tuple[str, ...] = ()  # AWS_ROLE_ARN set through valueFrom: IRSA, role unknown


def normalize_role_arn(arn: str) -> str:
    """Drop a role path (aws-auth cannot hold one): ``role/a/b/Name`` -> ``role/Name``."""
    head, sep, tail = arn.partition(":role/")
    return f"{head}{sep}{tail.rsplit('/', 1)[-1]}" if sep else arn


class InventoryIndex:
    """Lookups shared by every cluster of one inventory (built once, read by all views)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.roles: dict[str, Role] = {}
        for role in inventory.roles:
            self.roles[role.arn] = role
            self.roles.setdefault(normalize_role_arn(role.arn), role)
        self.providers_by_host: dict[str, list[OidcProvider]] = {}
        for p in inventory.oidc_providers:
            self.providers_by_host.setdefault(p.url.rstrip("/").lower(), []).append(p)
        self.providers_read = set(inventory.oidc_providers_read)
        self._grants: dict[tuple[str, str | None], RoleGrant] = {}
        self._documents = DocumentCache()
        # CloudTrail IAM events by (account, role name or OIDC provider host): rules look up only
        # their cluster's roles, so a large trail costs nothing per cluster.
        self.events_by_subject: dict[tuple[str, str], list[CloudTrailEvent]] = {}
        self.unparsed_events: dict[str, list[CloudTrailEvent]] = {}
        # EKS events by (account, region, cluster name): add-on and association changes
        self.events_by_cluster: dict[tuple[str, str, str], list[CloudTrailEvent]] = {}
        for event in inventory.cloudtrail_events:
            params = event.request_parameters
            if not isinstance(params, dict):
                self.unparsed_events.setdefault(event.account, []).append(event)
                continue
            cluster = params.get("clusterName", params.get("name"))
            if event.event_source == "eks.amazonaws.com" and isinstance(cluster, str):
                where = (event.account, event.region, cluster)
                self.events_by_cluster.setdefault(where, []).append(event)
            for key in ("roleName", "openIDConnectProviderArn"):
                subject = params.get(key)
                if isinstance(subject, str):
                    host = subject.split(":oidc-provider/", 1)[-1].lower()
                    name = subject if key == "roleName" else host
                    self.events_by_subject.setdefault((event.account, name), []).append(event)
        self.gaps_by_cluster: dict[str, list[Gap]] = {}
        self.gaps_by_account: dict[str | None, list[Gap]] = {}
        for gap in inventory.gaps:
            if gap.cluster is not None:
                self.gaps_by_cluster.setdefault(gap.cluster, []).append(gap)
            else:
                self.gaps_by_account.setdefault(gap.account, []).append(gap)
        self.cloudtrail_accounts = {s.account for s in inventory.cloudtrail_scopes}
        # role ARN -> [(cluster ARN, how)], filled by the engine once every view exists (CNI014)
        self.role_usage: dict[str, list[tuple[str, str]]] = {}

    def role(self, arn: str | None) -> Role | None:
        if arn is None:
            return None
        return self.roles.get(arn) or self.roles.get(normalize_role_arn(arn))

    def grant(self, role: Role, region: str | None) -> RoleGrant:
        """The role's CNI grant for ENIs in ``region`` (a policy may pin regions)."""
        key = (role.arn, region)
        grant = self._grants.get(key)
        if grant is None:
            grant = evaluate_role(role, ALL_CNI_ACTIONS, self._documents, region)
            self._grants[key] = grant
        return grant


class ClusterView:
    """One cluster with everything resolved that rules ask about."""

    def __init__(self, cluster: Cluster, index: InventoryIndex, config: Config) -> None:
        self.cluster = cluster
        self.index = index
        self.config = config
        self.kube = cluster.kube
        self.inventory = index.inventory
        self.memo: dict[str, object] = {}  # results rule helpers share within this cluster

    # --- scope ---------------------------------------------------------------------------------
    @property
    def is_iac(self) -> bool:
        return self.inventory.kind == "iac"

    def source_attempted(self, source: str) -> bool:
        return source in self.inventory.sources

    @cached_property
    def environment(self) -> str | None:
        tags = self.cluster.tags or {}
        return tags.get(self.config.production_tag_key)

    @cached_property
    def production(self) -> bool:
        return self.config.is_production(self.cluster.tags)

    @cached_property
    def kube_in_scope(self) -> bool:
        """Kubernetes was to be read for this cluster: a state was read or a gap says why not."""
        if self.kube is not None:
            return True
        gaps = self.index.gaps_by_cluster.get(self.cluster.arn, ())
        return any(g.what.startswith("k8s") for g in gaps)

    @cached_property
    def pods_unread(self) -> bool:
        """The running aws-node pods, the highest-precedence word on aws-node's identity, were
        in scope and not read: the configuration alone cannot confirm what aws-node runs with."""
        return not self.is_iac and self.kube_in_scope and self.pod_env is None

    @cached_property
    def basis(self) -> str:
        """Which source the verdict on aws-node's identity rests on."""
        if not self.is_iac and not self.kube_in_scope:
            return "aws_only"
        binding = self.binding
        if binding.source:
            return binding.source
        if binding.kind == "unknown":
            return "unknown"
        return "iac" if self.is_iac else "service_account"

    # --- Kubernetes objects --------------------------------------------------------------------
    @cached_property
    def daemonset(self) -> DaemonSet | Literal[False] | None:
        """The aws-node DaemonSet; False when the list was read and it is absent; None unread."""
        if self.kube is None or self.kube.daemonsets is None:
            return None
        for ds in self.kube.daemonsets:
            if ds.namespace == KUBE_SYSTEM and ds.name == AWS_NODE:
                return ds
        return False

    @cached_property
    def service_account_name(self) -> str:
        ds = self.daemonset
        return ds.service_account if ds else AWS_NODE

    @cached_property
    def service_account(self) -> ServiceAccount | Literal[False] | None:
        if self.kube is None or self.kube.service_accounts is None:
            return None
        for sa in self.kube.service_accounts:
            if sa.namespace == KUBE_SYSTEM and sa.name == self.service_account_name:
                return sa
        return False

    @cached_property
    def aws_node_pods(self) -> tuple[Pod, ...] | None:
        """Running aws-node pods; None when not read, or when the DaemonSet schedules pods but
        none were found (an export that left them out, not a cluster without them)."""
        kube = self.kube
        if kube is None or kube.pods is None or not kube.aws_node_pods_read:
            return None
        pods = tuple(
            p
            for p in kube.pods
            if p.namespace == KUBE_SYSTEM
            and ((p.labels or {}).get("k8s-app") == AWS_NODE or p.owner_name == AWS_NODE)
        )
        ds = self.daemonset
        if not pods and ds and (ds.desired or 0) > 0:
            return None
        return pods

    @cached_property
    def pod_env(self) -> PodEnvSummary | None:
        pods = self.aws_node_pods
        if pods is None:
            return None
        irsa: dict[str, list[str]] = {}
        pi: list[str] = []
        without: list[str] = []
        indirect: list[str] = []
        for pod in pods:
            main = next((c for c in pod.containers if c.name == AWS_NODE), None)
            containers = [main] if main else list(pod.containers)
            role = next((c.env_value(IRSA_ENV) for c in containers if c.env_value(IRSA_ENV)), None)
            if role:
                irsa.setdefault(role, []).append(pod.name)
            elif any(c.env_by_reference(IRSA_ENV) for c in containers):
                indirect.append(pod.name)  # AWS_ROLE_ARN from valueFrom: which role is unknown
            elif any(c.env_value(POD_IDENTITY_ENV) for c in containers):
                pi.append(pod.name)
            else:
                without.append(pod.name)
        return PodEnvSummary(
            pods=pods,
            irsa_roles={k: tuple(v) for k, v in irsa.items()},
            pod_identity=tuple(pi),
            without=tuple(without),
            indirect=tuple(indirect),
        )

    # --- EKS objects ---------------------------------------------------------------------------
    @cached_property
    def vpc_cni_addon(self) -> Addon | Literal[False] | None:
        if self.cluster.addons is None:
            return None
        return next((a for a in self.cluster.addons if a.name == "vpc-cni"), False)

    @cached_property
    def pod_identity_role(self) -> str | Literal[False] | None:
        """Role of the pod identity association for aws-node; False: none; None: not read."""
        assocs = self.cluster.pod_identity_associations
        if assocs is None:
            return None
        for a in assocs:
            if a.namespace == KUBE_SYSTEM and a.service_account == self.service_account_name:
                return a.role_arn
        return False

    @cached_property
    def pod_identity_target(self) -> str | None:
        """The association's ``targetRoleArn``: EKS chains into it, so it holds the permissions."""
        for a in self.cluster.pod_identity_associations or ():
            if a.namespace == KUBE_SYSTEM and a.service_account == self.service_account_name:
                return a.target_role_arn
        return None

    @cached_property
    def annotation_role(self) -> str | Literal[False] | None:
        sa = self.service_account
        if sa is None:
            return None
        if sa is False:
            return False
        return sa.annotations.get(ROLE_ARN_ANNOTATION) or False

    # --- what aws-node uses -----------------------------------------------------------------------
    @cached_property
    def configured_binding(self) -> Binding:
        """The dedicated identity set up for aws-node (annotation, add-on, pod identity)."""
        annotation = self.annotation_role
        pia = self.pod_identity_role
        addon = self.vpc_cni_addon
        if annotation:
            return Binding("irsa", annotation, "service_account", "ServiceAccount annotation")
        if pia:
            return Binding(
                "pod_identity", pia, "pod_identity_association", "pod identity association"
            )
        if annotation is None and addon and addon.service_account_role_arn:
            return Binding(
                "irsa", addon.service_account_role_arn, "addon", "add-on serviceAccountRoleArn"
            )
        missing = []
        if annotation is None and not self.is_iac:
            missing.append("the aws-node ServiceAccount was not read")
        if pia is None:
            missing.append("pod identity associations were not read")
        if addon is None:
            missing.append("the vpc-cni add-on was not read")
        if missing:
            return Binding("unknown", reason="; ".join(missing))
        return Binding("none", reason="no IRSA annotation, add-on role or pod identity association")

    @cached_property
    def binding(self) -> Binding:
        """What aws-node actually runs with: running pods' env first (domain.md A2 step 6)."""
        env = self.pod_env
        if env is not None and env.pods:
            if env.irsa_roles:
                role = max(env.irsa_roles, key=lambda r: len(env.irsa_roles[r]))
                return Binding("irsa", role, "pods", "AWS_ROLE_ARN in running aws-node pods")
            if env.indirect:  # IRSA by reference: the role is the one configured, if any
                configured = self.configured_binding
                if configured.kind == "irsa":
                    return replace(
                        configured,
                        reason=f"{configured.reason}; pods set AWS_ROLE_ARN through valueFrom",
                    )
                return Binding(
                    "unknown",
                    reason="aws-node pods set AWS_ROLE_ARN through "
                    "valueFrom and no IRSA role is configured",
                )
            if env.pod_identity:
                configured = self.configured_binding
                pi_role = configured.role_arn if configured.kind == "pod_identity" else None
                if pi_role is None and self.pod_identity_role:
                    pi_role = self.pod_identity_role
                return Binding(
                    "pod_identity", pi_role, "pods", "pod identity env in running aws-node pods"
                )
            return Binding(
                "none",
                source="pods",
                reason="running aws-node pods carry no IRSA or pod identity env",
            )
        return self.configured_binding

    @cached_property
    def dedicated_role(self) -> Role | None:
        return self.index.role(self.binding.role_arn)

    @cached_property
    def grant_role(self) -> Role | None:
        """The role whose policies aws-node's dedicated identity ends up with (the pod identity
        association's target role when it chains into another account)."""
        if self.binding.kind == "pod_identity" and self.pod_identity_target:
            return self.index.role(self.pod_identity_target)
        return self.dedicated_role

    @cached_property
    def dedicated_grant(self) -> RoleGrant | None:
        role = self.grant_role
        return self.index.grant(role, self.cluster.region) if role else None

    @cached_property
    def trust(self) -> TrustAnalysis | None:
        """Trust analysis of the dedicated role for this cluster's aws-node."""
        role = self.dedicated_role
        if role is None or not role.exists:
            return None
        if self.binding.kind == "pod_identity":
            return analyze_pod_identity_trust(
                role.trust_policy,
                cluster_arn=self.cluster.arn if self.cluster.arn.startswith("arn:") else None,
                cluster_name=self.cluster.name,
                account=self.cluster.account if self.cluster.account.isdigit() else None,
                service_account=self.service_account_name,
            )
        sa = self.service_account
        audience = sa.annotations.get(AUDIENCE_ANNOTATION) if sa else None
        return analyze_irsa_trust(
            role.trust_policy,
            issuer=self.cluster.oidc_issuer,
            service_account=self.service_account_name,
            audience=audience or "sts.amazonaws.com",
            role_account=role.account or None,
        )

    @cached_property
    def oidc_provider(self) -> OidcProvider | Literal[False] | None:
        """The IAM OIDC provider for the cluster's issuer; False: none; None: unknown."""
        issuer = self.cluster.oidc_issuer
        if issuer is None:
            return None
        found = self.index.providers_by_host.get(issuer_host(issuer).lower())
        if found:
            own = [p for p in found if p.account == self.cluster.account]
            return (own or found)[0]
        if self.cluster.account in self.index.providers_read or self.is_iac:
            return False
        return None

    # --- node roles --------------------------------------------------------------------------------
    @cached_property
    def node_roles(self) -> tuple[NodeRoleUse, ...] | None:
        """Roles of this cluster's EC2 worker nodes (not Fargate, not Auto Mode)."""
        groups = self.cluster.node_groups
        if groups is None:
            return None
        uses: dict[str, NodeRoleUse] = {}

        def add(arn: str, via: str, group: NodeGroup | None, linux: bool) -> None:
            key = normalize_role_arn(arn)
            use = uses.get(key) or NodeRoleUse(role_arn=arn, linux=False)
            uses[key] = NodeRoleUse(
                role_arn=use.role_arn,
                node_groups=(*use.node_groups, group) if group else use.node_groups,
                via=tuple(dict.fromkeys((*use.via, via))),
                linux=use.linux or linux,
            )

        for g in groups:
            if g.kind == "auto" or g.role_arn is None:
                continue
            add(g.role_arn, f"{g.kind.replace('_', '-')} node group {g.name}", g, g.os == "linux")
        for entry in self.cluster.access_entries or ():
            if entry.type in ("EC2_LINUX", "EC2_WINDOWS"):
                linux = entry.type == "EC2_LINUX"
                add(entry.principal_arn, f"access entry {entry.type}", None, linux)
        if self.kube is not None and self.kube.aws_auth:
            for m in self.kube.aws_auth:
                if "system:nodes" in m.groups:
                    windows = "eks:kube-proxy-windows" in m.groups
                    add(m.role_arn, "aws-auth mapRoles", None, not windows)
        return tuple(uses.values())

    @cached_property
    def node_sources_unread(self) -> str | None:
        """Why the list of node roles may be incomplete (a source of node roles was not read)."""
        if self.is_iac:
            return None
        missing = []
        if self.cluster.access_entries is None:
            missing.append("access entries were not read")
        mode = (self.cluster.authentication_mode or "CONFIG_MAP").upper()
        if "CONFIG_MAP" in mode and (self.kube is None or self.kube.aws_auth is None):
            missing.append("the aws-auth ConfigMap was not read")
        return "; ".join(missing) or None

    @cached_property
    def unresolved_node_groups(self) -> tuple[NodeGroup, ...]:
        return tuple(
            g for g in self.cluster.node_groups or () if g.kind != "auto" and g.role_arn is None
        )

    @cached_property
    def aws_node_runs(self) -> tuple[bool | None, str]:
        """Whether aws-node runs (or will run) on this cluster, and why."""
        ds = self.daemonset
        if ds and (ds.desired or 0) > 0:
            return True, f"the aws-node DaemonSet schedules {ds.desired} pod(s)"
        groups = self.cluster.node_groups
        linux_ec2 = [
            g for g in groups or () if g.os == "linux" and g.kind not in ("auto", "unknown")
        ]
        if linux_ec2:
            return True, f"{len(linux_ec2)} EC2 Linux node group(s)"
        if any(e.type == "EC2_LINUX" for e in self.cluster.access_entries or ()):
            return True, "an EC2_LINUX access entry admits self-managed Linux nodes"
        if (
            self.kube is not None
            and self.kube.aws_auth
            and any(
                "system:nodes" in m.groups and "eks:kube-proxy-windows" not in m.groups
                for m in self.kube.aws_auth
            )
        ):
            return True, "aws-auth maps a Linux node role"
        if groups is None:
            return None, "node groups were not read"
        unread = self.node_sources_unread or "; ".join(
            g.name for g in groups if g.kind == "unknown" and g.role_arn is None
        )
        if unread:
            if self._serverless_only(groups):
                return False, (
                    "AWS shows no node group, no EC2 instance, no vpc-cni add-on and only "
                    f"{self._serverless_only(groups)} compute: aws-node does not run"
                )
            return None, f"{unread} (self-managed nodes may exist)"
        kinds = []
        if self.cluster.auto_mode or any(g.kind == "auto" for g in groups):
            kinds.append("Auto Mode")
        if self.cluster.fargate_profiles:
            kinds.append("Fargate")
        if any(g.os == "windows" for g in groups):
            kinds.append("Windows")
        if kinds:
            return False, f"only {' and '.join(kinds)} compute: aws-node does not run"
        return False, "no EC2 Linux compute: aws-node has no node to run on"

    def _serverless_only(self, groups: tuple[NodeGroup, ...]) -> str:
        """ "Fargate" / "Auto Mode" when AWS alone shows aws-node has nothing to run on: no node
        group, no EC2 instance (read in full: no placeholder group), no vpc-cni add-on ("" else).
        """
        if any(g.kind != "auto" for g in groups) or self.vpc_cni_addon is not False:
            return ""
        kinds = [
            name
            for name, present in (
                ("Auto Mode", self.cluster.auto_mode or any(g.kind == "auto" for g in groups)),
                ("Fargate", bool(self.cluster.fargate_profiles)),
            )
            if present
        ]
        return " and ".join(kinds)

    def role_grant(self, arn: str) -> RoleGrant | None:
        role = self.index.role(arn)
        return self.index.grant(role, self.cluster.region) if role else None

    def required(self) -> tuple[str, ...]:
        return required_actions(self.cluster.ip_family)

    def essential(self) -> tuple[str, ...]:
        return essential_actions(self.cluster.ip_family)

    def check_grant(self, grant: RoleGrant) -> tuple[bool | None, tuple[str, ...], str | None]:
        """(grants the essential actions?, missing actions, why unknown) for this cluster's IP
        family; with the family unread, only a role granting both families' sets passes."""
        if self.cluster.ip_family is not None:
            essential = self.essential()
            missing = grant.missing(essential)
            if missing:
                return False, missing, None
            ok = grant.grants(essential)
            return (
                ok,
                (),
                None if ok else grant.unknown_reason or "permissions could not be evaluated",
            )
        v4, v6 = grant.grants(ESSENTIAL_IPV4), grant.grants(ESSENTIAL_IPV6)
        if v4 and v6:
            return True, (), None
        if v4 is False and v6 is False:
            return False, grant.missing(ESSENTIAL_IPV4), None
        return (
            None,
            (),
            "the cluster's IP family was not read, and the role does not grant both families' actions",
        )

    def origin_of(self, *objects: object) -> Origin | None:
        """The first known origin among ``objects`` (for evidence and IaC locations)."""
        for obj in objects:
            origin = getattr(obj, "origin", None)
            if isinstance(origin, Origin):
                return origin
        return self.cluster.origin


def roles_in(views: Iterable[ClusterView]) -> dict[str, list[tuple[str, str]]]:
    """role ARN -> [(cluster ARN, how it is used)], across the whole inventory (for CNI014)."""
    usage: dict[str, list[tuple[str, str]]] = {}
    for view in views:
        for use in view.node_roles or ():
            usage.setdefault(normalize_role_arn(use.role_arn), []).append(
                (view.cluster.arn, "node role")
            )
        binding = view.configured_binding
        if binding.role_arn:
            usage.setdefault(normalize_role_arn(binding.role_arn), []).append(
                (view.cluster.arn, f"aws-node {binding.kind} role")
            )
    return usage
