"""The exact trust policies and policy documents a plan gives aws-node's dedicated role."""

from __future__ import annotations

from typing import Any

from cniguard.iam.trust import (
    POD_IDENTITY_PRINCIPAL,
    STS_AUDIENCE,
    issuer_host,
    service_account_subject,
)

# The EKS user guide's AmazonEKS_CNI_IPv6_Policy (domain.md A1): a customer policy by convention.
IPV6_POLICY_NAME = "AmazonEKS_CNI_IPv6_Policy"


def partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def cni_policy_arn(partition: str, account: str, ip_family: str) -> str:
    if ip_family == "ipv6":
        return f"arn:{partition}:iam::{account}:policy/{IPV6_POLICY_NAME}"
    return f"arn:{partition}:iam::aws:policy/AmazonEKS_CNI_Policy"


def ipv6_policy_document(partition: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ec2:AssignIpv6Addresses",
                    "ec2:DescribeInstances",
                    "ec2:DescribeTags",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeInstanceTypes",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": [f"arn:{partition}:ec2:*:*:network-interface/*"],
            },
        ],
    }


def provider_arn(partition: str, account: str, issuer: str) -> str:
    return f"arn:{partition}:iam::{account}:oidc-provider/{issuer_host(issuer)}"


def irsa_trust(
    partition: str, account: str, issuer: str, namespace: str, service_account: str
) -> dict[str, Any]:
    """Trust for exactly ``namespace/service_account`` of this cluster (domain.md A2 step 2)."""
    host = issuer_host(issuer)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn(partition, account, issuer)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:aud": STS_AUDIENCE,
                        f"{host}:sub": service_account_subject(namespace, service_account),
                    }
                },
            }
        ],
    }


def pod_identity_trust(cluster_arn: str, namespace: str, service_account: str) -> dict[str, Any]:
    """Trust for EKS Pod Identity, limited to this cluster's ``namespace/service_account`` by the
    session tags EKS Pod Identity sets (the EKS user guide's pod-id-role example). Not
    ``aws:SourceArn``: its value in Pod Identity's AssumeRole is not documented, and a wrong guess
    would leave aws-node without credentials."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:RequestTag/eks-cluster-arn": cluster_arn,
                        "aws:RequestTag/kubernetes-namespace": namespace,
                        "aws:RequestTag/kubernetes-service-account": service_account,
                    }
                },
            }
        ],
    }
