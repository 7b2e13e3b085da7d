"""EKS reads of one cluster: description, node groups, Fargate profiles, add-ons, pod identity
associations and node-type access entries. Every list starts as soon as the cluster is listed, so
the parts are read side by side, and each finished part reports its roles (``ctx.follow``) so
they are read without waiting for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from cniguard.collect.aws.context import RunContext
from cniguard.collect.aws.drafts import ClusterDraft, Part
from cniguard.collect.aws.ec2 import read_launch_template
from cniguard.collect.aws.errors import Where, error_code
from cniguard.collect.aws.scope import AccountScope
from cniguard.model.inventory import (
    AccessEntry,
    Addon,
    FargateProfile,
    NodeGroup,
    PodIdentityAssociation,
)

OPERATIONS = (
    "eks:ListClusters",
    "eks:DescribeCluster",
    "eks:ListNodegroups",
    "eks:DescribeNodegroup",
    "eks:ListFargateProfiles",
    "eks:DescribeFargateProfile",
    "eks:ListAddons",
    "eks:DescribeAddon",
    "eks:ListPodIdentityAssociations",
    "eks:DescribePodIdentityAssociation",
    "eks:ListAccessEntries",
    "eks:DescribeAccessEntry",
)
# add-ons whose settings decide the CNI's identity; others are recorded by name only
DESCRIBED_ADDONS = ("vpc-cni", "eks-pod-identity-agent")
NODE_ACCESS_TYPES = frozenset({"EC2_LINUX", "EC2_WINDOWS", "EC2", "FARGATE_LINUX", "HYBRID_LINUX"})
CNI_NAMESPACE = "kube-system"


def wanted(name: str, arn: str, clusters: tuple[str, ...] | None) -> bool:
    return clusters is None or name in clusters or arn in clusters


def list_clusters(ctx: RunContext, scope: AccountScope, region: str) -> list[ClusterDraft] | None:
    """Drafts of the region's clusters in scope (None: the list could not be read)."""
    eks = scope.clients.get("eks", region)

    def read() -> list[str]:
        pages = eks.get_paginator("list_clusters").paginate()
        return [name for page in pages for name in page["clusters"]]

    names = ctx.log.attempt(
        read, what="eks:clusters", operation="eks:ListClusters", where=Where(scope.account, region)
    )
    if names is None:
        return None
    drafts = [ClusterDraft(n, scope.account, region, scope.partition) for n in sorted(names)]
    return [d for d in drafts if wanted(d.name, d.arn, ctx.options.clusters)]


def start_cluster(
    ctx: RunContext,
    scope: AccountScope,
    draft: ClusterDraft,
    after_describe: Callable[[ClusterDraft], None],
) -> None:
    """Spawn every independent read of one cluster."""
    where = Where(draft.account, draft.region, draft.arn)
    eks = scope.clients.get("eks", draft.region)

    def describe() -> None:
        draft.info = ctx.log.attempt(
            lambda: eks.describe_cluster(name=draft.name)["cluster"],
            what="eks:cluster",
            operation="eks:DescribeCluster",
            where=where,
        )
        if draft.info is not None:
            after_describe(draft)

    readers: list[tuple[Callable[..., None], str]] = [
        (describe, "eks:cluster"),
        (_nodegroups, "eks:nodegroups"),
        (_fargate, "eks:fargate-profiles"),
        (_addons, "eks:addons"),
        (_pod_identity, "eks:pod-identity-associations"),
        (_access_entries, "eks:access-entries"),
    ]
    for fn, what in readers:
        args = () if fn is describe else (ctx, scope, draft, where)
        ctx.tasks.spawn(fn, *args, what=what, where=where)


def _names(
    ctx: RunContext,
    draft: ClusterDraft,
    where: Where,
    client: Any,
    *,
    op: str,
    key: str,
    what: str,
    **kwargs: Any,
) -> list[Any] | None:
    def read() -> list[Any]:
        pages = client.get_paginator(op).paginate(clusterName=draft.name, **kwargs)
        return [item for page in pages for item in page[key]]

    action = "eks:" + "".join(p.capitalize() for p in op.split("_"))
    return ctx.log.attempt(read, what=what, operation=action, where=where)


def _failed(draft: ClusterDraft, part: Part) -> None:
    draft.failed.add(part)


def _nodegroups(ctx: RunContext, scope: AccountScope, draft: ClusterDraft, where: Where) -> None:
    eks = scope.clients.get("eks", draft.region)
    names = _names(
        ctx, draft, where, eks, op="list_nodegroups", key="nodegroups", what="eks:nodegroups"
    )
    if names is None:
        return
    draft.managed = []
    for name in names:
        ctx.tasks.spawn(
            _nodegroup, ctx, scope, draft, where, name, what="eks:nodegroups", where=where
        )


def _nodegroup(
    ctx: RunContext, scope: AccountScope, draft: ClusterDraft, where: Where, name: str
) -> None:
    eks = scope.clients.get("eks", draft.region)
    info = ctx.log.attempt(
        lambda: eks.describe_nodegroup(clusterName=draft.name, nodegroupName=name)["nodegroup"],
        what="eks:nodegroups",
        operation="eks:DescribeNodegroup",
        where=where,
        resource=name,
    )
    if info is None:
        _failed(draft, "nodegroups")
        return
    ami = info.get("amiType")
    template = info.get("launchTemplate") or {}
    metadata = None
    if template.get("id") or template.get("name"):
        metadata = read_launch_template(ctx, scope, draft.region, template, where)
        if metadata is None:
            _failed(draft, "nodegroups")
            return
    assert draft.managed is not None
    draft.managed.append(
        NodeGroup(
            name=name,
            kind="managed",
            role_arn=info.get("nodeRole"),
            os="windows" if str(ami or "").startswith("WINDOWS") else "linux",
            ami_type=ami,
            metadata_options=metadata.options if metadata else None,
            origin=draft.origin("eks:DescribeNodegroup"),
        )
    )
    ctx.follow(draft)


def _fargate(ctx: RunContext, scope: AccountScope, draft: ClusterDraft, where: Where) -> None:
    eks = scope.clients.get("eks", draft.region)
    names = _names(
        ctx,
        draft,
        where,
        eks,
        op="list_fargate_profiles",
        key="fargateProfileNames",
        what="eks:fargate-profiles",
    )
    if names is None:
        return
    profiles: list[FargateProfile] = []
    for name in names:
        info = ctx.log.attempt(
            partial(eks.describe_fargate_profile, clusterName=draft.name, fargateProfileName=name),
            what="eks:fargate-profiles",
            operation="eks:DescribeFargateProfile",
            where=where,
            resource=name,
        )
        if info is None:
            _failed(draft, "fargate")
            return
        profiles.append(
            FargateProfile(
                name,
                info["fargateProfile"].get("podExecutionRoleArn"),
                draft.origin("eks:DescribeFargateProfile"),
            )
        )
    draft.fargate = profiles
    ctx.follow(draft)


def _addons(ctx: RunContext, scope: AccountScope, draft: ClusterDraft, where: Where) -> None:
    eks = scope.clients.get("eks", draft.region)
    names = _names(ctx, draft, where, eks, op="list_addons", key="addons", what="eks:addons")
    if names is None:
        return
    addons: list[Addon] = []
    for name in sorted(names):
        if name not in DESCRIBED_ADDONS:
            addons.append(Addon(name, origin=draft.origin("eks:ListAddons")))
            continue
        info = ctx.log.attempt(
            partial(_describe_addon, eks, draft.name, name),
            what="eks:addons",
            operation="eks:DescribeAddon",
            where=where,
            resource=name,
        )
        if info is None:
            _failed(draft, "addons")
            return
        if info:  # {}: deleted between the list and the describe
            addons.append(
                Addon(
                    name=name,
                    version=info.get("addonVersion"),
                    service_account_role_arn=info.get("serviceAccountRoleArn"),
                    pod_identity_association_arns=tuple(info.get("podIdentityAssociations") or ()),
                    configuration_values=info.get("configurationValues"),
                    origin=draft.origin("eks:DescribeAddon"),
                )
            )
    draft.addons = addons
    ctx.follow(draft)


def _describe_addon(eks: Any, cluster: str, name: str) -> dict[str, Any]:
    try:
        return dict(eks.describe_addon(clusterName=cluster, addonName=name)["addon"])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return {}
        raise


def _pod_identity(ctx: RunContext, scope: AccountScope, draft: ClusterDraft, where: Where) -> None:
    eks = scope.clients.get("eks", draft.region)
    summaries = _names(
        ctx,
        draft,
        where,
        eks,
        op="list_pod_identity_associations",
        key="associations",
        what="eks:pod-identity-associations",
        namespace=CNI_NAMESPACE,
    )
    if summaries is None:
        return
    found: list[PodIdentityAssociation] = []
    for summary in summaries:
        info = ctx.log.attempt(
            partial(
                eks.describe_pod_identity_association,
                clusterName=draft.name,
                associationId=summary["associationId"],
            ),
            what="eks:pod-identity-associations",
            operation="eks:DescribePodIdentityAssociation",
            where=where,
            resource=summary.get("associationArn"),
        )
        if info is None:
            _failed(draft, "pod_identity")
            return
        info = info["association"]
        found.append(
            PodIdentityAssociation(
                arn=info.get("associationArn"),
                namespace=info["namespace"],
                service_account=info["serviceAccount"],
                role_arn=info.get("roleArn"),
                target_role_arn=info.get("targetRoleArn"),
                owner_arn=info.get("ownerArn"),
                origin=draft.origin("eks:DescribePodIdentityAssociation"),
            )
        )
    draft.pod_identity = found
    ctx.follow(draft)


def _access_entries(
    ctx: RunContext, scope: AccountScope, draft: ClusterDraft, where: Where
) -> None:
    """Node-type entries: only role principals can be node identities, so only they are read."""
    eks = scope.clients.get("eks", draft.region)
    principals = _names(
        ctx,
        draft,
        where,
        eks,
        op="list_access_entries",
        key="accessEntries",
        what="eks:access-entries",
    )
    if principals is None:
        return
    entries: list[AccessEntry] = []
    for principal in principals:
        if ":role/" not in principal:
            continue
        info = ctx.log.attempt(
            partial(eks.describe_access_entry, clusterName=draft.name, principalArn=principal),
            what="eks:access-entries",
            operation="eks:DescribeAccessEntry",
            where=where,
            resource=principal,
        )
        if info is None:
            _failed(draft, "access_entries")
            return
        info = info["accessEntry"]
        if info.get("type") in NODE_ACCESS_TYPES:
            entries.append(
                AccessEntry(principal, info["type"], draft.origin("eks:DescribeAccessEntry"))
            )
    draft.access_entries = entries
    ctx.follow(draft)
