"""Resource instances (from HCL or plan JSON) -> the inventory model.

Links follow values, as AWS would: a policy attachment's ``role`` is a role's name, a node group's
``node_role_arn`` a role's ARN, an add-on's ``cluster_name`` a cluster's name. Computed attributes
carry placeholders (``computed.py``) so references written either way meet. A value that could not
be evaluated stays ``None`` in the model and becomes a :class:`Gap` naming file, line and
expression.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.terraform.computed import qualify
from cniguard.collect.iac.terraform.mapping_base import (
    _CHILDREN,
    WHAT,
    _arns_of,
    _ClusterRef,
    _describe,
    _first,
    _label,
    _tags,
)
from cniguard.collect.iac.terraform.mapping_nodes import NodeMapper
from cniguard.collect.iac.terraform.mapping_reach import cannot_touch, external_refs, module_reach
from cniguard.collect.iac.terraform.records import Problem, ResourceInstance
from cniguard.collect.iac.terraform.values import Unknown
from cniguard.model.inventory import (
    AccessEntry,
    Addon,
    Cluster,
    FargateProfile,
    Gap,
    NodeGroup,
    PodIdentityAssociation,
)


@dataclass
class _Mapper(NodeMapper):
    """Clusters with their children, then the gaps nobody claimed."""

    # --- clusters ----------------------------------------------------------------------------

    def addons(
        self, ref: _ClusterRef
    ) -> tuple[list[Addon] | None, list[PodIdentityAssociation] | None]:
        addons: list[Addon] = []
        associations: list[PodIdentityAssociation] = []
        cluster_id = ref.id
        items, addons_unsure = self.children(
            "aws_eks_addon", ref, "the cluster's add-ons and pod identity are unknown"
        )
        for item in items:
            ids = []
            for index, block in enumerate(item.values.get("pod_identity_association") or []):
                if not isinstance(block, dict):
                    continue
                association_id = (
                    f"tf:{qualify(item.scope, item.address)}.pod_identity_association[{index}]"
                )
                ids.append(association_id)
                associations.append(
                    PodIdentityAssociation(
                        arn=association_id,
                        namespace="kube-system",
                        service_account=str(block.get("service_account")),
                        role_arn=self.block_role(
                            item,
                            block.get("role_arn"),
                            cluster_id,
                            "pod_identity_association",
                            "pod_identity_association.role_arn",
                        ),
                        origin=self.origin(item, "pod_identity_association"),
                    )
                )
            role = self.role_ref(item, "service_account_role_arn", cluster_id)
            config = self.known(item, "configuration_values", cluster_id)
            version = item.values.get("addon_version")
            addons.append(
                Addon(
                    name=str(item.values.get("addon_name")),
                    version=version if isinstance(version, str) else None,
                    service_account_role_arn=role,
                    pod_identity_association_arns=tuple(ids),
                    configuration_values=config if isinstance(config, str) else None,
                    origin=item.origin,
                )
            )
        items, associations_unsure = self.children(
            "aws_eks_pod_identity_association", ref, "the cluster's pod identity is unknown"
        )
        for item in items:
            target = item.values.get("target_role_arn")
            associations.append(
                PodIdentityAssociation(
                    arn=str(item.values.get("association_arn")),
                    namespace=str(self.known(item, "namespace", cluster_id)),
                    service_account=str(self.known(item, "service_account", cluster_id)),
                    role_arn=self.role_ref(item, "role_arn", cluster_id),
                    target_role_arn=target if isinstance(target, str) else None,
                    origin=item.origin,
                )
            )
        return (
            None if addons_unsure else addons,
            None if associations_unsure or addons_unsure else associations,
        )

    def cluster_ref(self, item: ResourceInstance) -> _ClusterRef:
        qualified = qualify(item.scope, item.address)
        return _ClusterRef(item, f"tf:{qualified}", qualified, item.values.get("name"))

    def clusters(self, problems: list[Problem]) -> None:
        self.refs = [self.cluster_ref(item) for item in self.by_type["aws_eks_cluster"]]
        modules = [p for p in problems if p.source is not None and not cannot_touch(p)]
        self.refs.extend(external_refs(self, modules))
        reach = module_reach(self.refs, modules)
        for ref in self.refs:
            cluster = self.external(ref) if ref.external else self.cluster(ref)
            self.fragment.clusters.append(self.unevaluated(cluster, reach.get(ref.id, [])))
        self.orphans()
        self.place_role_gaps()
        self.outside_roles()
        touched = {id(p) for calls in reach.values() for p in calls}
        for problem in problems:
            if id(problem) in touched or cannot_touch(problem):
                continue
            self.fragment.gaps.append(
                Gap(
                    what=WHAT,
                    reason=f"{problem.address}: cannot evaluate {problem.unknown.describe()}",
                    resource=problem.origin.file,
                    line=problem.origin.line,
                )
            )

    def unevaluated(self, cluster: Cluster, calls: list[Problem]) -> Cluster:
        """A cluster that module calls cniguard does not evaluate may add to: its add-ons, pod
        identity and node roles are unknown (one node source of unknown role per call)."""
        if not calls:
            return cluster
        for call in calls:
            self.fragment.gaps.append(
                Gap(
                    what=WHAT,
                    reason=(
                        f"{call.address}: module source {call.source!r} is not evaluated; the "
                        "add-ons, pod identity associations, access entries and node roles it "
                        "may create for this cluster are unknown"
                    ),
                    cluster=cluster.arn,
                    resource=call.origin.file,
                    line=call.origin.line,
                )
            )
        unknown_nodes = tuple(
            NodeGroup(
                name=f"{call.address} (not evaluated)",
                kind="unknown",
                role_arn=None,
                origin=call.origin,
            )
            for call in calls
        )
        return replace(
            cluster,
            addons=None,
            pod_identity_associations=None,
            node_groups=(*(cluster.node_groups or ()), *unknown_nodes),
        )

    def external(self, ref: _ClusterRef) -> Cluster:
        """A cluster only named by its children (a data source, a variable, a literal, another
        module's output): judged by what the files give, the rest unknown."""
        name = ref.name if isinstance(ref.name, str) else _label(ref.name)
        if not name:
            name = "(empty name: set by the caller)"  # a reusable module's default
        if ref.module_call is None:
            self.gap(
                ref.item,
                f"cluster {name} is not defined in the scanned files: its IP family, OIDC "
                "issuer, authentication mode and the node groups, add-ons and pod identity "
                "associations defined elsewhere are unknown",
                ref.id,
                "cluster_name",
            )
        addons, associations = self.addons(ref)
        has_cni = any(a.name == "vpc-cni" for a in addons or ())
        aws_node = any(
            (a.namespace, a.service_account) == ("kube-system", "aws-node")
            for a in associations or ()
        )
        elsewhere = NodeGroup(
            name="node groups defined elsewhere", kind="unknown", role_arn=None, origin=None
        )
        return Cluster(
            arn=ref.id,
            name=name,
            account=synthetic.ACCOUNT,
            region=synthetic.REGION,
            node_groups=(*self.node_groups(ref), *([elsewhere] if not ref.module_call else [])),
            fargate_profiles=None,
            addons=tuple(addons or ()) if has_cni else None,
            pod_identity_associations=tuple(associations or ()) if aws_node else None,
            access_entries=self.access_entries(ref),
            origin=ref.item.origin,
        )

    def access_entries(self, ref: _ClusterRef) -> tuple[AccessEntry, ...]:
        """The cluster's access entries. Only EC2 entries admit nodes: a STANDARD one whose
        principal is known only after apply (the cluster creator) decides nothing here."""
        entries, _ = self.children("aws_eks_access_entry", ref, None)
        entries = [
            e
            for e in entries
            if isinstance(e.values.get("principal_arn"), str)
            or not isinstance(e.values.get("type") or "STANDARD", str)
            or str(e.values.get("type") or "STANDARD").startswith("EC2")
        ]
        return tuple(
            AccessEntry(
                principal_arn=principal,
                type=str(e.values.get("type") or "STANDARD"),
                origin=e.origin,
            )
            for e in entries
            if (principal := self.role_ref(e, "principal_arn", ref.id)) is not None
        )

    def cluster(self, ref: _ClusterRef) -> Cluster:
        item, cluster_id = ref.item, ref.id
        name = ref.name
        if not isinstance(name, str):
            self.gap(
                item,
                f"name: cannot evaluate {_describe(name)}; reported under its address, "
                "children linked by reference",
                cluster_id,
                "name",
            )
            name = f"{item.address} (name unresolved)"
        self.expansion_gap(item, cluster_id, "the cluster may not exist (reported as if it does)")
        network = _first(item.values.get("kubernetes_network_config"))
        block = item.values.get("kubernetes_network_config")
        # absent, or a dynamic block with an empty for_each: the default, IPv4
        family = network.get("ip_family", "ipv4") if network or not block else block
        if isinstance(block, list) and block and not network:
            family = None
        if isinstance(family, Unknown):
            self.gap(
                item,
                f"ip_family: cannot evaluate {family.describe()}",
                cluster_id,
                "kubernetes_network_config",
            )
        compute = _first(item.values.get("compute_config"))
        auto = compute.get("enabled", False)
        access = _first(item.values.get("access_config")).get("authentication_mode")
        version = item.values.get("version")
        issuer = _first(_first(item.values.get("identity")).get("oidc")).get("issuer")
        addons, associations = self.addons(ref)
        fargate, fargate_unsure = self.children(
            "aws_eks_fargate_profile", ref, "the cluster's Fargate profiles are unknown"
        )
        return Cluster(
            arn=cluster_id,
            name=name,
            account=synthetic.ACCOUNT,
            region=synthetic.REGION,
            version=version if isinstance(version, str) else None,
            ip_family=family if family in ("ipv4", "ipv6") else None,
            oidc_issuer=issuer if isinstance(issuer, str) else None,
            auto_mode=auto if isinstance(auto, bool) else None,
            auto_mode_node_role_arn=self.block_role(
                item,
                compute.get("node_role_arn"),
                cluster_id,
                "compute_config",
                "compute_config.node_role_arn",
            ),
            authentication_mode=access if isinstance(access, str) else None,
            tags=_tags(self.known(item, "tags", cluster_id)),
            node_groups=tuple(self.node_groups(ref)),
            fargate_profiles=None
            if fargate_unsure
            else tuple(
                FargateProfile(
                    name=str(f.values.get("fargate_profile_name") or f.address),
                    pod_execution_role_arn=self.role_ref(f, "pod_execution_role_arn", cluster_id),
                    origin=f.origin,
                )
                for f in fargate
            ),
            addons=None if addons is None else tuple(addons),
            pod_identity_associations=None if associations is None else tuple(associations),
            access_entries=self.access_entries(ref),
            origin=item.origin,
        )

    def orphans(self) -> None:
        """What belongs to no cluster of this module or cannot exist surely: a gap each."""
        for resource_type in _CHILDREN:
            for item in self.by_type[resource_type]:
                value = (
                    self.tagged_cluster(item)
                    if resource_type == "aws_autoscaling_group"
                    else item.values.get("cluster_name")
                )
                if self.placement(item, value).clusters:
                    continue
                if isinstance(value, Unknown):
                    self.gap(
                        item,
                        f"cluster_name: cannot evaluate {value.describe()}",
                        None,
                        "cluster_name",
                    )
                else:
                    self.expansion_gap(item, None, "it may not exist")
        for resource_type in _UNPLACED:
            for item in self.by_type[resource_type]:
                self.expansion_gap(item, None, "it may not exist")

    def outside_roles(self) -> None:
        """A role a cluster's objects name by ARN that no scanned file defines: its grant is
        unknown, and the gap says which object names it where."""
        defined = {r.arn for r in self.fragment.roles}
        for cluster in self.fragment.clusters:
            named = [
                *(
                    (g.role_arn, g.origin, "node group " + g.name)
                    for g in cluster.node_groups or ()
                ),
                *(
                    (a.service_account_role_arn, a.origin, "add-on " + a.name)
                    for a in cluster.addons or ()
                ),
                *(
                    (a.role_arn, a.origin, "pod identity association")
                    for a in cluster.pod_identity_associations or ()
                ),
            ]
            for arn, origin, what in named:
                if arn is None or arn in defined:
                    continue
                self.fragment.gaps.append(
                    Gap(
                        what=WHAT,
                        reason=(
                            f"{what}: role {arn} is not defined in the scanned files; "
                            "its policies are unknown"
                        ),
                        cluster=cluster.arn,
                        resource=origin.file if origin else None,
                        line=origin.line if origin else None,
                    )
                )

    def place_role_gaps(self) -> None:
        """Role gaps go to the clusters whose objects name that role. A role of this root module
        that none of its clusters' objects names decides no verdict: its gap is dropped (a
        cluster elsewhere naming it by ARN has a gap of its own, see ``outside_roles``)."""
        for key, gap in self.role_gaps:
            arn = self.role_arns.get(key) if key else None
            using = [c.arn for c in self.fragment.clusters if arn and arn in _arns_of(c)]
            self.fragment.gaps.extend(replace(gap, cluster=c) for c in using)
            if not using and (arn is None or not self.fragment.clusters):
                self.fragment.gaps.append(gap)


_UNPLACED = ("aws_iam_policy", "aws_iam_instance_profile", "aws_launch_template")


def build_fragment(instances: list[ResourceInstance], problems: list[Problem]) -> IacFragment:
    mapper = _Mapper(instances)
    mapper.roles()
    mapper.oidc_providers()
    mapper.clusters(problems)
    return mapper.fragment
