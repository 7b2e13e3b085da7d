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
