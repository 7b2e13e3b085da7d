"""Joining what every template contributed into clusters and roles (after all files are read,
so a part finds its cluster in another template)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.cloudformation.assembly import (
    Assembly,
    ClusterDraft,
    NestedStack,
    Part,
    RoleDraft,
)
from cniguard.collect.iac.cloudformation.template import NODE_ENTRY_TYPES
from cniguard.model.common import Origin
from cniguard.model.inventory import (
    AccessEntry,
    Addon,
    Cluster,
    FargateProfile,
    Gap,
    NodeGroup,
    PodIdentityAssociation,
    PolicyAttachment,
    Role,
)


class Finisher:
    """Joins what every template contributed into clusters and roles."""

    def __init__(self, assembly: Assembly) -> None:
        self.a = assembly
        self.by_name = {drafts[0].name: arn for arn, drafts in assembly.roles.items()}
        self.undefined: dict[str, str] = {}  # cluster name -> id of its placeholder

    def gap(self, draft: ClusterDraft, origin: Origin | None, reason: str) -> None:
        self.a.gaps.append(
            Gap(
                what="iac:cluster",
                cluster=draft.cluster.arn,
                resource=origin.file if origin else draft.file,
                line=origin.line if origin else None,
                reason=reason,
            )
        )

    def placeholder(self, name: str, file: str, origin: Origin | None) -> ClusterDraft:
        cluster_id = self.undefined.setdefault(name, f"cfn:{file}#{name}")
        draft = self.a.clusters.get(cluster_id)
        if draft is None:
            draft = ClusterDraft(
                Cluster(
                    arn=cluster_id,
                    name=name,
                    account=synthetic.ACCOUNT,
                    region=synthetic.REGION,
                    origin=origin,
                ),
                file,
                defined=False,
            )
            self.a.clusters[cluster_id] = draft
            self.gap(
                draft,
                origin,
                f"cluster {name} is not defined in the scanned files: its add-ons, pod "
                "identity associations, access entries and OIDC issuer are unknown",
            )
        return draft

    def clusters_named(
        self, name: str, file: str, cluster_id: str | None = None
    ) -> list[ClusterDraft]:
        """The cluster a part joins: the one it references, else the only one of that name (in
        its own template first); several when the name is ambiguous, none when undefined."""
        if cluster_id in self.a.clusters:
            return [self.a.clusters[cluster_id]]
        named = [d for d in self.a.clusters.values() if d.defined and d.cluster.name == name]
        local = [d for d in named if d.file == file]
        return local if len(local) == 1 else named

    def targets(
        self, name: str, file: str, origin: Origin | None, cluster_id: str | None = None
    ) -> tuple[list[ClusterDraft], bool]:
        """(clusters, tied to exactly one?)"""
        found = self.clusters_named(name, file, cluster_id)
        if not found:
            return [self.placeholder(name, file, origin)], True
        return found, len(found) == 1

    def profile_role(self, part: Part) -> str | None:
        roles = self.a.profiles.get(part.profile or "")
        if roles is None:
            self.a.gaps.append(
                Gap(
                    what="iac:instance-profile",
                    resource=part.file,
                    line=part.item.origin.line if part.item.origin else None,
                    reason=f"instance profile {part.profile} of node group "
                    f"{getattr(part.item, 'name', '')} is not defined in the scanned files",
                )
            )
            return None
        return self.by_name.get(roles[0], synthetic.role_arn(roles[0])) if roles else None

    @staticmethod
    def binds_aws_node(item: Any) -> bool:
        if isinstance(item, Addon):
            return item.name == "vpc-cni"
        return isinstance(item, PodIdentityAssociation) and (
            item.namespace,
            item.service_account,
        ) == ("kube-system", "aws-node")

    @staticmethod
    def field_of(item: Any) -> str:
        return {
            NodeGroup: "node_groups",
            FargateProfile: "fargate",
            Addon: "addons",
            PodIdentityAssociation: "associations",
        }.get(type(item), "access_entries")

    def unknown_part(self, draft: ClusterDraft, item: Any, reason: str) -> None:
        """A part that may or may not belong to (or deploy on) this cluster: what it would
        change becomes unknown; a node group stays counted as a node of unknown role."""
        self.gap(draft, item.origin, reason)
        field_name = self.field_of(item)
        node = isinstance(item, NodeGroup) or (
            isinstance(item, AccessEntry) and item.type.upper() in NODE_ENTRY_TYPES
        )
        if node:
            draft.node_groups.append(
                NodeGroup(
                    name=getattr(item, "name", None) or item.principal_arn,
                    kind="unknown",
                    role_arn=None,
                    origin=item.origin,
                )
            )
        if field_name != "node_groups":
            draft.unknown.add(field_name)

    def place(self, part: Part) -> None:
        item = part.item
        drafts, tied = self.targets(part.cluster_name, part.file, item.origin, part.cluster_id)
        if isinstance(item, NodeGroup) and part.profile is not None:
            item = replace(item, role_arn=self.profile_role(part))
        if not tied:
            files = ", ".join(sorted(d.file for d in drafts))
            for draft in drafts:
                self.unknown_part(
                    draft,
                    item,
                    f"cluster name {part.cluster_name} is defined in several scanned templates "
                    f"({files}): which one {self.field_of(item)} entry at "
                    f"{item.origin.describe() if item.origin else part.file} belongs to is unknown",
                )
            return
        (draft,) = drafts
        if part.unsure and self.binds_aws_node(item):
            self.unknown_part(draft, item, f"{part.unsure}: aws-node's binding is unknown")
            return
        getattr(draft, self.field_of(item)).append(item)

    def family(self, file: str) -> set[str]:
        """A template and the templates nested in it, at any depth (one deployment)."""
        found, todo = {file}, [file]
        while todo:
            for child in self.a.children.get(todo.pop(), ()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def nested(self, stack: NestedStack) -> None:
        """A nested stack not read: node groups it may create are of unknown role."""
        family = self.family(stack.file)
        local = [d for d in self.a.clusters.values() if d.file in family and d.defined]
        named = [d for n in stack.names for d in self.clusters_named(n, stack.file)]
        drafts = list({d.cluster.arn: d for d in local + named}.values())
        reason = (
            f"nested stack {stack.logical_id} ({stack.url}) is not among the scanned files: the "
            "node groups, roles and bindings it creates are unknown"
        )
        if not drafts:
            self.a.gaps.append(
                Gap(
                    what="iac:nested-stack",
                    resource=stack.file,
                    line=stack.origin.line,
                    reason=reason,
                )
            )
        for draft in drafts:
            self.gap(draft, stack.origin, reason)
            draft.node_groups.append(
                NodeGroup(
                    name=f"nested stack {stack.logical_id}",
                    kind="unknown",
                    role_arn=None,
                    origin=stack.origin,
                )
            )
            draft.unknown.update(("addons", "associations"))

    def node_entries(self, draft: ClusterDraft) -> None:
        """EC2 access entries for roles no node group uses: self-managed or Karpenter nodes."""
        used = {g.role_arn for g in draft.node_groups}
        for entry in draft.access_entries:
            os_name = NODE_ENTRY_TYPES.get(entry.type.upper())
            if os_name is None or entry.principal_arn in used:
                continue
            used.add(entry.principal_arn)
            karpenter = "KarpenterNodeRole" in entry.principal_arn
            draft.node_groups.append(
                NodeGroup(
                    name=synthetic.role_name_of(entry.principal_arn),
                    kind="karpenter" if karpenter else "self_managed",
                    role_arn=entry.principal_arn,
                    os="windows" if os_name == "windows" else "linux",
                    origin=entry.origin,
                )
            )

    def karpenter(self) -> None:
        used = {g.role_arn for d in self.a.clusters.values() for g in d.node_groups}
        for arn, file in self.a.karpenter_roles:
            if arn in used:
                continue
            name = synthetic.role_name_of(arn)
            suffix = name.split("KarpenterNodeRole-", 1)[1] if "KarpenterNodeRole-" in name else ""
            origin = self.a.roles[arn][0].origin
            local = [d for d in self.a.clusters.values() if d.file == file and d.defined]
            if suffix:
                drafts, tied = self.targets(suffix, file, origin)
            else:
                drafts, tied = local, len(local) == 1
            if not drafts:
                self.a.gaps.append(
                    Gap(
                        what="iac:node-group",
                        resource=file,
                        reason=(f"Karpenter node role {name}: cannot tell which cluster it serves"),
                    )
                )
                continue
            group = NodeGroup(name=name, kind="karpenter", role_arn=arn, origin=origin)
            for draft in drafts:
                if tied:
                    draft.node_groups.append(group)
                else:
                    self.unknown_part(
                        draft,
                        group,
                        f"Karpenter node role {name}: cannot tell which of "
                        f"{len(drafts)} clusters it serves",
                    )

    def role(self, draft: RoleDraft, extra: list[PolicyAttachment]) -> Role:
        docs = self.a.managed_documents
        managed = [
            synthetic.managed_attachment(arn, origin, docs.get(arn))
            for arn, origin in draft.managed
        ]
        boundary = (
            synthetic.managed_attachment(draft.boundary, draft.origin, docs.get(draft.boundary))
            if draft.boundary
            else None
        )
        if boundary is not None and boundary.document is None:
            self.a.gaps.append(
                Gap(
                    what="iac:policy",
                    resource=draft.origin.file,
                    line=draft.origin.line,
                    reason=f"permissions boundary {draft.boundary} of role {draft.name} is not "
                    "defined in the scanned files: the role's effective permissions are unknown",
                )
            )
        return Role(
            arn=draft.arn,
            name=draft.name,
            account=synthetic.ACCOUNT,
            trust_policy=draft.trust,
            policies=tuple(managed + draft.inline + extra),
            permissions_boundary_arn=draft.boundary,
            permissions_boundary=boundary.document if boundary else None,
            tags=draft.tags,
            origin=draft.origin,
        )

    def unique_role(self, drafts: list[RoleDraft], extra: list[PolicyAttachment]) -> Role:
        """A role defined once; defined again differently, it is unknown (which one deploys?)."""
        roles = [self.role(d, extra) for d in drafts]
        first = roles[0]
        if all(without_origins(r) == without_origins(first) for r in roles[1:]):
            return first
        where = ", ".join(r.origin.describe() for r in roles if r.origin)
        self.a.gaps.append(
            Gap(
                what="iac:role",
                resource=first.origin.file if first.origin else None,
                line=first.origin.line if first.origin else None,
                reason=f"role {first.name} is defined differently in several templates "
                f"({where}): its trust and permissions are unknown",
            )
        )
        return replace(first, trust_policy=None, policies=None, tags=None)

    def finish(self, out: IacFragment) -> None:
        for part in self.a.parts:
            self.place(part)
        for stack in self.a.nested:
            self.nested(stack)
        for draft in self.a.clusters.values():
            self.node_entries(draft)
        self.karpenter()
        extra: dict[str, list[PolicyAttachment]] = {}
        for role_name, attachment in self.a.role_policies:
            arn = self.by_name.get(role_name)
            if arn is not None:
                extra.setdefault(arn, []).append(attachment)
        out.roles.extend(self.unique_role(d, extra.get(arn, [])) for arn, d in self.a.roles.items())
        for draft in self.a.clusters.values():
            out.clusters.append(
                replace(
                    draft.cluster,
                    node_groups=tuple(draft.node_groups),
                    fargate_profiles=draft.read("fargate"),
                    addons=draft.read("addons"),
                    pod_identity_associations=draft.read("associations"),
                    access_entries=draft.read("access_entries"),
                )
            )
        out.oidc_providers.extend(self.a.providers)
        out.gaps.extend(self.a.gaps)


def without_origins(role: Role) -> Role:
    policies = tuple(replace(p, origin=None) for p in role.policies or ())
    return replace(role, origin=None, policies=policies)
