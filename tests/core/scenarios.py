"""One compliant cluster, and small edits of it that each break one thing (good/bad pairs)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cniguard.demo.builders import (
    EC2_TRUST,
    POD_IDENTITY_ENV,
    POD_IDENTITY_TRUST,
    WORKER_NODE_DOC,
    aws_node_ds,
    aws_node_pods,
    aws_node_sa,
    cni_managed,
    inline,
    irsa_env,
    irsa_trust,
    issuer,
    managed,
    missing_permission_events,
    node_group,
    nodes,
    provider,
    role,
    stuck_pods,
    vpc_cni,
)
from cniguard.model.inventory import (
    CloudTrailScope,
    Cluster,
    Inventory,
    PodIdentityAssociation,
    Role,
)
from cniguard.model.kube import KubeState

ACCOUNT, REGION, OIDC = "111122223333", "us-east-1", "5A1B2C3D4E5F60718293A4B5C6D7E8F9"
CLUSTER_ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/prod"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/prod-node"
CNI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/prod-vpc-cni"
TAGS = {"owner": "team", "cost-center": "cc-1", "environment": "prod"}
NOW = "2026-11-27T09:00:00Z"


def node_role(*extra: Any, tags: dict[str, str] | None = None) -> Role:
    return role(
        ACCOUNT,
        "prod-node",
        trust=EC2_TRUST,
        policies=(managed("AmazonEKSWorkerNodePolicy", WORKER_NODE_DOC), *extra),
        tags=TAGS if tags is None else tags,
    )


def cni_role(**kwargs: Any) -> Role:
    kwargs.setdefault("trust", irsa_trust(ACCOUNT, REGION, OIDC))
    kwargs.setdefault("policies", (cni_managed(),))
    kwargs.setdefault("tags", TAGS)
    return role(ACCOUNT, "prod-vpc-cni", **kwargs)


def kube(env: Any = None, sa_role: str | None = CNI_ROLE, **kwargs: Any) -> KubeState:
    env = irsa_env(CNI_ROLE) if env is None else env
    base = KubeState(
        collected_at=NOW,
        daemonsets=(aws_node_ds(REGION, 3),),
        service_accounts=(aws_node_sa(sa_role),),
        pods=aws_node_pods(REGION, 3, env),
        events=(),
        nodes=nodes(REGION, 3, "ng"),
        aws_auth=(),
    )
    return replace(base, **kwargs)


def cluster(**kwargs: Any) -> Cluster:
    base = Cluster(
        arn=CLUSTER_ARN,
        name="prod",
        account=ACCOUNT,
        region=REGION,
        version="1.33",
        ip_family="ipv4",
        oidc_issuer=issuer(REGION, OIDC),
        auto_mode=False,
        tags=TAGS,
        node_groups=(node_group("ng", NODE_ROLE),),
        fargate_profiles=(),
        addons=(vpc_cni(CNI_ROLE),),
        pod_identity_associations=(),
        access_entries=(),
        kube=kube(),
    )
    return replace(base, **kwargs)


def inventory(
    *,
    clusters: tuple[Cluster, ...] | None = None,
    roles: tuple[Role, ...] | None = None,
    **kwargs: Any,
) -> Inventory:
    base = Inventory(
        kind="live",
        generated_at=NOW,
        clusters=clusters or (cluster(),),
        roles=roles if roles is not None else (node_role(), cni_role()),
        oidc_providers=(provider(ACCOUNT, REGION, OIDC),),
        oidc_providers_read=(ACCOUNT,),
        cloudtrail_scopes=(CloudTrailScope(ACCOUNT, REGION, "2026-08-29T09:00:00Z", NOW),),
        accounts=(ACCOUNT,),
        regions=(REGION,),
        sources=("aws", "k8s", "cloudtrail"),
    )
    return replace(base, **kwargs)


def pod_identity_cluster() -> Inventory:
    pia = PodIdentityAssociation(
        arn="arn:aws:eks:us-east-1:111122223333:podidentityassociation/prod/a-1",
        namespace="kube-system",
        service_account="aws-node",
        role_arn=CNI_ROLE,
    )
    return inventory(
        clusters=(
            cluster(
                addons=(vpc_cni(None),),
                pod_identity_associations=(pia,),
                kube=kube(env=POD_IDENTITY_ENV, sa_role=None),
            ),
        ),
        roles=(node_role(), cni_role(trust=POD_IDENTITY_TRUST)),
    )


def outage() -> Inventory:
    """No dedicated identity, node role without the CNI policy: the symptoms of design §4."""
    stuck, sandbox = stuck_pods(REGION, 2, created_at="2026-11-27T08:00:00Z")
    k = kube(env=(), sa_role=None)
    k = replace(
        k,
        pods=(k.pods or ()) + stuck,
        nodes=nodes(REGION, 3, "ng", ready=False),
        events=sandbox + missing_permission_events((k.pods or ())[:1]),
    )
    return inventory(clusters=(cluster(addons=(vpc_cni(None),), kube=k),), roles=(node_role(),))


__all__ = [
    "ACCOUNT",
    "CLUSTER_ARN",
    "CNI_ROLE",
    "NODE_ROLE",
    "REGION",
    "cluster",
    "cni_managed",
    "cni_role",
    "inline",
    "inventory",
    "kube",
    "node_role",
    "outage",
    "pod_identity_cluster",
]
