"""Small builders for realistic inventory objects: the demo fleet and tests share them.

Documents follow the real ones (domain.md A1, A2): the v6 AmazonEKS_CNI_Policy, the IPv6 policy,
IRSA and Pod Identity trust policies, and Kubernetes objects as the API returns them.
"""

from __future__ import annotations

from typing import Any, Literal

from cniguard.iam.actions import IPV4_ACTIONS, IPV6_ACTIONS
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import (
    Addon,
    MetadataOptions,
    NodeGroup,
    NodeKind,
    NodeOs,
    OidcProvider,
    PolicyAttachment,
    Role,
)
from cniguard.model.kube import Container, DaemonSet, EnvVar, Event, Node, Pod, ServiceAccount

CNI_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
ENI_ARN = "arn:aws:ec2:*:*:network-interface/*"
CNI_IMAGE = "602401143452.dkr.ecr.{region}.amazonaws.com/amazon-k8s-cni:v1.20.4-eksbuild.1"


def _cni_doc(actions: tuple[str, ...]) -> JsonDict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [a for a in actions if a != "ec2:CreateTags"],
            },
            {"Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": [ENI_ARN]},
        ],
    }


CNI_POLICY_DOC: JsonDict = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AmazonEKSCNIPolicy", **_cni_doc(IPV4_ACTIONS)["Statement"][0]},
        {"Sid": "AmazonEKSCNIPolicyENITag", **_cni_doc(IPV4_ACTIONS)["Statement"][1]},
    ],
}
CNI_IPV6_POLICY_DOC: JsonDict = _cni_doc(IPV6_ACTIONS)
WORKER_NODE_DOC: JsonDict = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "ec2:DescribeInstances",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVolumes",
                "ec2:DescribeVpcs",
                "eks:DescribeCluster",
                "eks-auth:AssumeRoleForPodIdentity",
            ],
        },
    ],
}
ECR_READ_DOC: JsonDict = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
        }
    ],
}
EC2_TRUST: JsonDict = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
POD_IDENTITY_TRUST: JsonDict = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


def origin(account: str, region: str, api: str) -> Origin:
    return Origin(source="demo", account=account, region=region, api=api)


def managed(name: str, document: JsonDict | None, account: str = "aws") -> PolicyAttachment:
    arn = f"arn:aws:iam::{account}:policy/{name}"
    return PolicyAttachment(name=name, kind="managed", arn=arn, document=document, version="v1")


def cni_managed() -> PolicyAttachment:
    return PolicyAttachment(
        name="AmazonEKS_CNI_Policy",
        kind="managed",
        arn=CNI_POLICY_ARN,
        document=CNI_POLICY_DOC,
        version="v6",
    )


def inline(name: str, document: JsonDict | str) -> PolicyAttachment:
    return PolicyAttachment(name=name, kind="inline", document=document)


def issuer(region: str, oidc_id: str) -> str:
    return f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"


def provider(
    account: str, region: str, oidc_id: str, client_ids: tuple[str, ...] = ("sts.amazonaws.com",)
) -> OidcProvider:
    url = f"oidc.eks.{region}.amazonaws.com/id/{oidc_id}"
    return OidcProvider(
        arn=f"arn:aws:iam::{account}:oidc-provider/{url}",
        url=url,
        client_ids=client_ids,
        account=account,
        origin=origin(account, "global", "iam:GetOpenIDConnectProvider"),
    )


def irsa_trust(
    account: str,
    region: str,
    oidc_id: str,
    *,
    sub: str = "system:serviceaccount:kube-system:aws-node",
    operator: str = "StringEquals",
    aud: str | None = "sts.amazonaws.com",
) -> JsonDict:
    host = f"oidc.eks.{region}.amazonaws.com/id/{oidc_id}"
    cond: dict[str, Any] = {operator: {f"{host}:sub": sub}}
    if aud is not None:
        cond.setdefault("StringEquals", {})[f"{host}:aud"] = aud
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": cond,
            }
        ],
    }


def role(
    account: str,
    name: str,
    *,
    trust: JsonDict,
    policies: tuple[PolicyAttachment, ...],
    tags: dict[str, str] | None = None,
    boundary: tuple[str, JsonDict] | None = None,
    exists: bool = True,
) -> Role:
    return Role(
        arn=f"arn:aws:iam::{account}:role/{name}",
        name=name,
        account=account,
        exists=exists,
        trust_policy=trust,
        policies=policies,
        tags=tags if tags is not None else {},
        permissions_boundary_arn=boundary[0] if boundary else None,
        permissions_boundary=boundary[1] if boundary else None,
        origin=origin(account, "global", "iam:GetRole"),
    )


def node_group(
    name: str,
    role_arn: str,
    *,
    kind: NodeKind = "managed",
    tokens: Literal["required", "optional"] = "required",
    hop: int = 1,
    os: NodeOs = "linux",
    count: int = 3,
    account: str = "",
    region: str = "",
) -> NodeGroup:
    ami = "WINDOWS_CORE_2022_x86_64" if os == "windows" else "AL2023_x86_64_STANDARD"
    return NodeGroup(
        name=name,
        kind=kind,
        role_arn=role_arn,
        os=os,
        ami_type=ami,
        metadata_options=MetadataOptions(
            http_tokens=tokens, hop_limit=hop, http_endpoint="enabled"
        ),
        instance_count=count,
        origin=origin(account, region, "eks:DescribeNodegroup"),
    )


def vpc_cni(role_arn: str | None = None, *, version: str = "v1.20.4-eksbuild.1") -> Addon:
    return Addon(name="vpc-cni", version=version, service_account_role_arn=role_arn)


def aws_node_sa(role_arn: str | None = None) -> ServiceAccount:
    annotations = {"eks.amazonaws.com/role-arn": role_arn} if role_arn else {}
    if role_arn:
        annotations["eks.amazonaws.com/sts-regional-endpoints"] = "true"
    return ServiceAccount(
        namespace="kube-system",
        name="aws-node",
        annotations=annotations,
        labels={"k8s-app": "aws-node"},
    )


def aws_node_ds(region: str, nodes: int, ready: int | None = None) -> DaemonSet:
    ready = nodes if ready is None else ready
    return DaemonSet(
        namespace="kube-system",
        name="aws-node",
        service_account="aws-node",
        containers=(
            Container(
                name="aws-node",
                image=CNI_IMAGE.format(region=region),
                env=(EnvVar("ENABLE_IPv6", "false"), EnvVar("VPC_CNI_VERSION", "v1.20.4")),
            ),
        ),
        desired=nodes,
        ready=ready,
        unavailable=nodes - ready,
        generation=3,
    )


def irsa_env(role_arn: str) -> tuple[EnvVar, ...]:
    return (
        EnvVar("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
        EnvVar("AWS_ROLE_ARN", role_arn),
        EnvVar(
            "AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
        ),
    )


POD_IDENTITY_ENV = (
    EnvVar("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"),
    EnvVar(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token",
    ),
)


def node_name(region: str, i: int) -> str:
    suffix = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-10-0-{i // 250}-{i % 250 + 10}.{suffix}"


def aws_node_pods(
    region: str,
    count: int,
    env: tuple[EnvVar, ...] = (),
    *,
    ready: bool = True,
    created_at: str = "2026-11-20T08:00:00Z",
    start: int = 0,
) -> tuple[Pod, ...]:
    return tuple(
        Pod(
            namespace="kube-system",
            name=f"aws-node-{i:05x}",
            node_name=node_name(region, i),
            service_account="aws-node",
            labels={"k8s-app": "aws-node"},
            phase="Running",
            containers=(
                Container(name="aws-node", env=env, ready=ready, restart_count=0 if ready else 14),
                Container(name="aws-eks-nodeagent", env=env, ready=True),
            ),
            created_at=created_at,
            ready=ready,
            owner_kind="DaemonSet",
            owner_name="aws-node",
        )
        for i in range(start, start + count)
    )


def nodes(region: str, count: int, nodegroup: str, *, ready: bool = True) -> tuple[Node, ...]:
    message = (
        None
        if ready
        else "container runtime network not ready: NetworkReady=false "
        "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
    )
    return tuple(
        Node(
            name=node_name(region, i),
            labels={"kubernetes.io/os": "linux", "eks.amazonaws.com/nodegroup": nodegroup},
            provider_id=f"aws:///{region}a/i-0{i:016x}",
            ready=ready,
            ready_reason=None if ready else "KubeletNotReady",
            ready_message=message,
        )
        for i in range(count)
    )


def stuck_pods(
    region: str, count: int, *, created_at: str
) -> tuple[tuple[Pod, ...], tuple[Event, ...]]:
    pods = []
    events = []
    for i in range(count):
        name = f"orders-api-7d9c{i:02d}"
        pods.append(
            Pod(
                namespace="orders",
                name=name,
                node_name=node_name(region, i % 3),
                phase="Pending",
                created_at=created_at,
                containers=(
                    Container(
                        name="api",
                        image="orders-api:2.4.1",
                        ready=False,
                        waiting_reason="ContainerCreating",
                    ),
                ),
            )
        )
        events.append(
            Event(
                namespace="orders",
                involved_kind="Pod",
                involved_name=name,
                reason="FailedCreatePodSandBox",
                type="Warning",
                count=12,
                first_seen=created_at,
                last_seen="2026-11-27T08:58:00Z",
                reporting_component="kubelet",
                message="Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup "
                f'network for sandbox "{i:064x}": plugin type="aws-cni" name="aws-cni" failed '
                "(add): add cmd: failed to assign an IP address to container",
            )
        )
    return tuple(pods), tuple(events)


def missing_permission_events(
    pods: tuple[Pod, ...], action: str = "ec2:CreateNetworkInterface"
) -> tuple[Event, ...]:
    return tuple(
        Event(
            namespace="kube-system",
            involved_kind="Pod",
            involved_name=p.name,
            reason="MissingIAMPermissions",
            type="Warning",
            count=30,
            action=action,
            reporting_component="aws-node",
            first_seen="2026-11-27T07:41:00Z",
            last_seen="2026-11-27T08:58:00Z",
            message=f"Unauthorized operation: failed to call {action} due to missing permissions. "
            "Please refer https://github.com/aws/amazon-vpc-cni-k8s/blob/master/docs/"
            "iam-policy.md to attach relevant policy to IAM role",
        )
        for p in pods
    )
