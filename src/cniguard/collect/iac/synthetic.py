"""Stand-ins for what exists only after deploy: account, region, OIDC issuer, ARNs, trust policies.

IaC names no real account and no issuer (EKS mints it at creation), yet trust analysis needs both
to line up: the provider a trust names, the condition keys built from the issuer and the cluster's
own issuer must be the same string. Each cluster therefore gets one deterministic issuer derived
from its id, and every collector builds ARNs, trusts and managed-policy attachments through here.
"""

from __future__ import annotations

import hashlib

from cniguard.collect.iac.managed_policies import aws_managed_document
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import PolicyAttachment

ACCOUNT = "${account}"  # AWS::AccountId / data.aws_caller_identity: unknown before deploy
REGION = "${region}"  # AWS::Region when the source does not name one
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
STS_AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
CNI_POLICY = "AmazonEKS_CNI_Policy"


def issuer_url(cluster_id: str, region: str = REGION) -> str:
    """The OIDC issuer EKS would mint for this cluster: stable per cluster id, 32 upper-case hex."""
    digest = hashlib.sha256(cluster_id.encode()).hexdigest()[:32].upper()
    return f"https://oidc.eks.{region}.{URL_SUFFIX}/id/{digest}"


def issuer_host(issuer: str) -> str:
    """The issuer without its scheme: the IAM provider URL and the trust condition key prefix."""
    return issuer.split("://", 1)[-1]


def provider_arn(issuer: str, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:iam::{account}:oidc-provider/{issuer_host(issuer)}"


def role_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:iam::{account}:role/{name}"


def policy_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:iam::{account}:policy/{name}"


def aws_managed_arn(name: str, partition: str = PARTITION) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def role_name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def managed_attachment(
    arn: str, origin: Origin | None, document: JsonDict | str | None = None
) -> PolicyAttachment:
    """A managed policy by ARN, with its document when the code defines it or AWS manages it
    (and cniguard knows it); otherwise the document stays unread (None)."""
    version = None
    if document is None:
        known = aws_managed_document(arn)
        if known is not None:
            document, version = known
    return PolicyAttachment(
        name=arn.rsplit("/", 1)[-1],
        kind="managed",
        arn=arn,
        document=document,
        version=version,
        origin=origin,
    )


def ec2_trust() -> JsonDict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": f"ec2.{URL_SUFFIX}"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def irsa_trust(
    issuer: str, namespace: str | None, service_account: str | None, account: str = ACCOUNT
) -> JsonDict:
    """The web-identity trust eksctl writes; without a service account it has ``aud`` only."""
    host = issuer_host(issuer)
    condition: dict[str, str] = {f"{host}:aud": STS_AUDIENCE}
    if namespace and service_account:
        condition[f"{host}:sub"] = f"system:serviceaccount:{namespace}:{service_account}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn(issuer, account)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": condition},
            }
        ],
    }


def pod_identity_trust() -> JsonDict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_SERVICE},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


def ipv6_cni_document(partition: str = PARTITION) -> JsonDict:
    """eksctl's inline IPv6 CNI policy (pkg/actions/addon/create.go)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "ec2:AssignIpv6Addresses",
                    "ec2:DescribeInstances",
                    "ec2:DescribeTags",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": f"arn:{partition}:ec2:*:*:network-interface/*",
            },
        ],
    }
