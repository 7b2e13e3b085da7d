"""The auditor's own least privilege: the IAM policy and the Kubernetes ClusterRole that cover
every call the collectors can make, generated from the operations each collector declares.
"""

from __future__ import annotations

from typing import Any

from cniguard.collect.aws import cloudtrail, ec2, eks, iam, scope

POLICY_SID = "CniguardReadOnly"
CLUSTER_ROLE_NAME = "cniguard-reader"


def declared_operations() -> tuple[str, ...]:
    """Every AWS operation (as an IAM action) the live collector may call."""
    found = {
        *scope.OPERATIONS,
        *eks.OPERATIONS,
        *ec2.OPERATIONS,
        *iam.OPERATIONS,
        *cloudtrail.OPERATIONS,
    }
    return tuple(sorted(found))


def auditor_policy(org_role: str | None = None, partition: str = "aws") -> dict[str, Any]:
    """The IAM policy the auditor needs; ``org_role`` adds the hop into member accounts."""
    actions = [
        a
        for a in declared_operations()
        if a not in scope.NO_PERMISSION_NEEDED and a != "sts:AssumeRole"
    ]
    statements: list[dict[str, Any]] = [
        {"Sid": POLICY_SID, "Effect": "Allow", "Action": actions, "Resource": "*"}
    ]
    if org_role is not None:
        statements.append(
            {
                "Sid": "EnterMemberAccounts",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:{partition}:iam::*:role/{org_role}",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def cluster_role() -> dict[str, Any]:
    """The ClusterRole the Kubernetes reads need (bind it to the auditor's access entry group)."""
    from cniguard.collect.kubernetes import RBAC_RULES

    merged: dict[tuple[str, str], set[str]] = {}
    for group, resource, verbs, _namespace in RBAC_RULES:
        merged.setdefault((group, resource), set()).update(verbs)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": CLUSTER_ROLE_NAME},
        "rules": [
            {"apiGroups": [group], "resources": [resource], "verbs": sorted(verbs)}
            for (group, resource), verbs in sorted(merged.items())
        ],
    }


WRITE_ROLE_NAME = "cniguard-apply"
DEFAULT_ROLE_PREFIX = "AmazonEKSVPCCNIRole-"  # the plan's default role name, before {cluster}


def write_policy(role_prefix: str = DEFAULT_ROLE_PREFIX, partition: str = "aws") -> dict[str, Any]:
    """The extra IAM policy `apply`, `verify` and `scan --securityhub` need, scoped where the
    resource is known: the role they create and pass (``role_prefix``), OIDC providers of EKS
    issuers, the IPv6 policy. Node roles have any name, so attaching and detaching policies stays
    account-wide."""
    from cniguard.export.securityhub import OPERATIONS as SECURITYHUB_OPERATIONS
    from cniguard.remediate.aws_ops import LOCK_ACTIONS, NO_PERMISSION_NEEDED, declared_actions
    from cniguard.remediate.kube_ops import VERIFY_AWS_ACTIONS

    arn = f"arn:{partition}:iam::*"
    scoped = {
        "CniguardApplyOwnRole": (
            ["iam:CreateRole", "iam:DeleteRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy",
             "iam:PassRole"],
            f"{arn}:role/{role_prefix}*",
        ),
        "CniguardApplyOidcProvider": (
            ["iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
             "iam:AddClientIDToOpenIDConnectProvider",
             "iam:RemoveClientIDFromOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"],
            f"{arn}:oidc-provider/oidc.eks.*",
        ),
        "CniguardApplyIpv6Policy": (
            ["iam:CreatePolicy", "iam:DeletePolicy"],
            f"{arn}:policy/AmazonEKS_CNI_IPv6_Policy",
        ),
        "CniguardApplyRolePolicies": (
            ["iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy",
             "iam:DeleteRolePolicy"],
            f"{arn}:role/*",
        ),
    }  # fmt: skip
    placed = {a for actions, _ in scoped.values() for a in actions}
    # the --assume-role hop is the caller's own permission, not this policy's
    elsewhere = {*placed, *NO_PERMISSION_NEEDED, *LOCK_ACTIONS, "sts:AssumeRole"}
    anywhere = sorted({*declared_actions(), *VERIFY_AWS_ACTIONS} - elsewhere)
    statements: list[dict[str, Any]] = [
        {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}
        for sid, (actions, resource) in scoped.items()
    ]
    statements.append(
        {"Sid": "CniguardApplyEksAndReads", "Effect": "Allow", "Action": anywhere, "Resource": "*"}
    )
    statements.append(
        {
            "Sid": "CniguardSecurityHubImport",  # `scan --securityhub --yes`
            "Effect": "Allow",
            "Action": sorted(SECURITYHUB_OPERATIONS),
            "Resource": "*",
        }
    )
    statements.append(
        {
            "Sid": "CniguardApplyLockTag",
            "Effect": "Allow",
            "Action": sorted(LOCK_ACTIONS),
            "Resource": f"arn:{partition}:eks:*:*:cluster/*",
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


def write_rbac() -> list[dict[str, Any]]:
    """The Kubernetes Role (kube-system) and ClusterRole the writes of apply and verify need."""
    from cniguard.remediate.kube_ops import WRITE_RBAC

    namespaced = [r for r in WRITE_RBAC if r["namespace"] is not None]
    cluster_wide = [r for r in WRITE_RBAC if r["namespace"] is None]

    def rules(found: list[Any]) -> list[dict[str, Any]]:
        return [
            {"apiGroups": r["apiGroups"], "resources": r["resources"], "verbs": sorted(r["verbs"])}
            for r in found
        ]

    documents = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": WRITE_ROLE_NAME},
            "rules": rules(cluster_wide),
        }
    ]
    for namespace in sorted({str(r["namespace"]) for r in namespaced}):
        documents.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": WRITE_ROLE_NAME, "namespace": namespace},
                "rules": rules([r for r in namespaced if r["namespace"] == namespace]),
            }
        )
    return documents
