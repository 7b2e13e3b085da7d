"""Joins across the files and formats of one scan (after every collector has read its files).

An eksctl config or a CloudFormation template often names a role by a literal ARN that another
file of the same code base defines (a Terraform or CloudFormation role whose ARN is only known
after deploy): the role is judged by that definition when exactly one role of that name exists in
the scan. A node role, or a role aws-node is bound to, that no scanned file defines is unknown,
and the coverage says where it is named. Terraform's own references are resolved by the Terraform
collector and left alone here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from cniguard.collect.iac import synthetic
from cniguard.model.common import Origin
from cniguard.model.inventory import Cluster, Gap, PolicyAttachment, Role


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


class _Roles:
    def __init__(self, roles: list[Role]) -> None:
        self.arns = {r.arn for r in roles}
        self.by_name: dict[str, list[Role]] = {}
        for role in roles:
            self.by_name.setdefault(role.name, []).append(role)

    def resolve(
        self, arn: str, cluster: Cluster, origin: Origin | None, what: str, gaps: list[Gap]
    ) -> str:
        """The ARN of the scanned role ``arn`` names, else ``arn`` with a gap."""
        if arn in self.arns or ":role/" not in arn:
            return arn
        name = synthetic.role_name_of(arn)
        found = [
            r
            for r in self.by_name.get(name, [])
            if _arn_account(r.arn) in (synthetic.ACCOUNT, _arn_account(arn))
        ]
        if len(found) == 1:
            return found[0].arn
        where = origin.describe() if origin else cluster.name
        reason = (
            f"{what} {arn} (at {where}) is defined by {len(found)} scanned roles named {name}"
            if found
            else f"{what} {arn} (at {where}) is not defined in the scanned files"
        )
        gaps.append(
            Gap(
                what="iac:role",
                cluster=cluster.arn,
                resource=origin.file if origin else None,
                line=origin.line if origin else None,
                reason=f"{reason}: its permissions and trust are unknown",
            )
        )
        return arn


def join_roles(clusters: list[Cluster], roles: list[Role], gaps: list[Gap]) -> list[Cluster]:
    """Node roles, access entry principals and aws-node's roles by ARN resolved to the scanned
    role they name."""
    index = _Roles(roles)
    out = []
    for cluster in clusters:
        if cluster.arn.startswith("tf:"):
            out.append(cluster)
            continue
        groups = tuple(
            replace(g, role_arn=index.resolve(g.role_arn, cluster, g.origin, "node role", gaps))
            if g.role_arn
            else g
            for g in cluster.node_groups or ()
        )
        addons = tuple(
            replace(
                a,
                service_account_role_arn=index.resolve(
                    a.service_account_role_arn, cluster, a.origin, "vpc-cni add-on role", gaps
                ),
            )
            if a.name == "vpc-cni" and a.service_account_role_arn
            else a
            for a in cluster.addons or ()
        )
        associations = tuple(
            replace(p, role_arn=index.resolve(p.role_arn, cluster, p.origin, "aws-node role", gaps))
            if p.role_arn and (p.namespace, p.service_account) == ("kube-system", "aws-node")
            else p
            for p in cluster.pod_identity_associations or ()
        )
        entries = tuple(  # the node groups above already name an unresolved principal
            replace(e, principal_arn=index.resolve(e.principal_arn, cluster, e.origin, "", []))
            for e in cluster.access_entries or ()
        )
        out.append(
            replace(
                cluster,
                node_groups=groups if cluster.node_groups is not None else None,
                access_entries=entries if cluster.access_entries is not None else None,
                addons=addons if cluster.addons is not None else None,
                pod_identity_associations=associations
                if cluster.pod_identity_associations is not None
                else None,
            )
        )
    return out


def join_node_group_files(
    clusters: list[Cluster],
    roles: list[Role],
    files: Mapping[str, tuple[str, ...]],
    gaps: list[Gap],
) -> tuple[list[Cluster], list[Role]]:
    """An eksctl config of node groups only, for a cluster another format of the scan defines,
    is ``eksctl create nodegroup``: its node groups join that cluster. eksctl then attaches the
    CNI policy unless the live aws-node ServiceAccount is annotated, which no file shows: the
    node roles' CNI grant is unknown."""
    by_arn = {c.arn: c for c in clusters}
    moved: dict[str, Cluster] = {}
    uncertain: set[str] = set()
    for arn, default_cni in files.items():
        source = by_arn.get(arn)
        if source is None:
            continue
        targets = [
            c
            for c in clusters
            if c.name == source.name and c.arn != arn and not c.arn.startswith("eksctl:")
        ]
        if len(targets) != 1:
            continue
        target = moved.get(targets[0].arn, targets[0])
        groups = (*(target.node_groups or ()), *(source.node_groups or ()))
        moved[target.arn] = replace(target, node_groups=groups)
        moved[arn] = source
        uncertain.update(default_cni)
        if default_cni:
            gaps.append(
                Gap(
                    what="iac:eksctl",
                    cluster=target.arn,
                    resource=source.origin.file if source.origin else None,
                    line=source.origin.line if source.origin else None,
                    reason=f"node groups of {source.name} created with `eksctl create "
                    "nodegroup` get AmazonEKS_CNI_Policy unless the live aws-node "
                    "ServiceAccount is annotated with a role, which the files cannot show",
                )
            )
    kept = [moved.get(c.arn, c) for c in clusters if c.arn not in files or c.arn not in moved]
    return kept, [_without_default_cni(r) if r.arn in uncertain else r for r in roles]


def _without_default_cni(role: Role) -> Role:
    """The role with its default CNI policy replaced by one whose attachment is unknown."""
    policies = tuple(
        PolicyAttachment(
            name=f"{p.name} (attached unless aws-node is annotated)",
            kind="managed",
            origin=p.origin,
        )
        if p.name == synthetic.CNI_POLICY
        else p
        for p in role.policies or ()
    )
    return replace(role, policies=policies)
