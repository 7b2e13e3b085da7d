"""``collect_iac``: every IaC file under the given paths, as one inventory the rules evaluate.

Each format's collector reads its own files; this joins their fragments, ties aws-node
ServiceAccounts from manifests to a cluster when that is decidable, and records what was read,
what was skipped and why (syntax errors with file and line) in the inventory's gaps and meta.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePath

from cniguard.collect.gap_cap import cap_gaps
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.discover import Discovery, FileKind, discover
from cniguard.collect.iac.join import join_node_group_files, join_roles
from cniguard.model.inventory import Cluster, Gap, Inventory, Role
from cniguard.model.kube import KubeState, ServiceAccount


def _files(found: Discovery, *kinds: FileKind) -> list[Path]:
    return [f.path for f in found.files if f.kind in kinds]


def _owner(sa: ServiceAccount, clusters: list[Cluster]) -> Cluster | None:
    """The cluster a manifest belongs to: the only one, else the only one defined beside it."""
    if len(clusters) == 1:
        return clusters[0]
    folder = PurePath(sa.origin.file or "").parent if sa.origin else None
    near = [
        c
        for c in clusters
        if c.origin
        and c.origin.file
        and folder is not None
        and PurePath(c.origin.file).parent == folder
    ]
    return near[0] if len(near) == 1 else None


def _attach(
    clusters: list[Cluster], accounts: list[ServiceAccount], gaps: list[Gap]
) -> list[Cluster]:
    placed: dict[str, list[ServiceAccount]] = {}
    for sa in accounts:
        owner = _owner(sa, clusters)
        if owner is None:
            gaps.append(
                Gap(
                    what="iac:service-account",
                    resource=sa.origin.file if sa.origin else None,
                    line=sa.origin.line if sa.origin else None,
                    reason=f"ServiceAccount {sa.namespace}/{sa.name} cannot be tied to a cluster: "
                    f"{len(clusters)} clusters in the scan and none alone beside it",
                )
            )
            continue
        placed.setdefault(owner.arn, []).append(sa)
    out = []
    for cluster in clusters:
        extra = placed.get(cluster.arn)
        kube = cluster.kube or KubeState()
        out.append(
            replace(
                cluster,
                kube=replace(kube, service_accounts=(*(kube.service_accounts or ()), *extra)),
            )
            if extra
            else cluster
        )
    return out


def _unique_roles(roles: list[Role], gaps: list[Gap]) -> tuple[Role, ...]:
    """One role per ARN. Two different definitions of one role (in two formats or files) cannot
    both deploy as written: the role is kept with its permissions and trust unknown."""
    seen: dict[str, Role] = {}
    conflicting: set[str] = set()
    for role in roles:
        first = seen.setdefault(role.arn, role)
        if first is not role and first != role:
            conflicting.add(role.arn)
            where = role.origin.describe() if role.origin else "?"
            gaps.append(
                Gap(
                    what="iac:role",
                    resource=role.origin.file if role.origin else None,
                    line=role.origin.line if role.origin else None,
                    reason=f"role {role.name} is defined twice, differently (again at {where}); "
                    "its permissions and trust are unknown",
                )
            )
    return tuple(
        replace(r, trust_policy=None, policies=None, permissions_boundary=None, tags=None)
        if arn in conflicting
        else r
        for arn, r in seen.items()
    )


def collect_iac(paths: Sequence[Path]) -> Inventory:
    """Discover, read and join every IaC file under ``paths`` (files or folders)."""
    from cniguard.collect.iac.cloudformation import collect_cloudformation
    from cniguard.collect.iac.eksctl import collect_eksctl
    from cniguard.collect.iac.manifests import collect_manifests

    found = discover(paths)
    fragment = IacFragment()
    terraform = _files(found, "terraform", "terraform_plan")
    if terraform:
        from cniguard.collect.iac.terraform import collect_terraform

        fragment.extend(collect_terraform(terraform))
    for kind, collect in (("cloudformation", collect_cloudformation), ("eksctl", collect_eksctl)):
        files = _files(found, kind)  # type: ignore[arg-type]
        if files:
            fragment.extend(collect(files))
    manifests = collect_manifests(_files(found, "manifests"), _files(found, "helm_values"))
    gaps = list(fragment.gaps) + manifests.gaps
    clusters, roles = join_node_group_files(
        fragment.clusters, fragment.roles, fragment.node_group_files, gaps
    )
    clusters = join_roles(clusters, roles, gaps)
    clusters = _attach(clusters, manifests.service_accounts, gaps)
    gaps.extend(
        Gap(what="iac:file", reason=s.reason, resource=s.path)
        for s in found.skipped
        if s.unreadable
    )
    files_read = sorted({*fragment.files_read, *manifests.files_read})
    if not found.files:  # nothing to audit is not a pass
        gaps.append(
            Gap(
                what="iac:file",
                reason="no Terraform, CloudFormation, eksctl or manifest files found",
                resource=", ".join(str(p) for p in paths),
            )
        )
    return Inventory(
        kind="iac",
        generated_at=dt.datetime.now(dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
        clusters=tuple(clusters),
        roles=_unique_roles(roles, gaps),
        oidc_providers=tuple(fragment.oidc_providers),
        accounts=tuple(sorted({c.account for c in clusters})),
        regions=tuple(sorted({c.region for c in clusters})),
        gaps=tuple(cap_gaps(gaps)),
        sources=("iac",),
        meta={
            "paths": [str(p) for p in paths],
            "files_read": files_read,
            "files_skipped": [{"file": s.path, "reason": s.reason} for s in found.skipped],
            "formats": {
                kind: len(_files(found, kind)) for kind in sorted({f.kind for f in found.files})
            },
        },
    )
