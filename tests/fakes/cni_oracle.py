"""The test oracle: can aws-node, running with a given identity, get credentials and make the
EC2 calls it needs? Read from moto's live IAM state with plain boto3.

Written on purpose without anything from ``cniguard`` (its evaluator is what the simulated
cluster checks), and kept simple instead of complete: conditions it does not understand make an
Allow count for nothing and a Deny count in full, so it errs towards "does not work".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal
from urllib.parse import unquote

IPV4_ACTIONS = (
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:CreateNetworkInterface",
    "ec2:AttachNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "ec2:DetachNetworkInterface",
    "ec2:DeleteNetworkInterface",
)
IPV6_ACTIONS = ("ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:AssignIpv6Addresses")
# the resource types each call touches (a Describe call authorizes against "*" only)
_RESOURCES = {
    "ec2:CreateNetworkInterface": ("network-interface", "subnet", "security-group"),
    "ec2:AttachNetworkInterface": ("network-interface", "instance"),
    "ec2:AssignPrivateIpAddresses": ("network-interface",),
    "ec2:UnassignPrivateIpAddresses": ("network-interface",),
    "ec2:DetachNetworkInterface": ("network-interface", "instance"),
    "ec2:DeleteNetworkInterface": ("network-interface",),
    "ec2:AssignIpv6Addresses": ("network-interface",),
}
_SAMPLE_IDS = {
    "network-interface": "eni-0a1b2c3d4e5f60718",
    "subnet": "subnet-0a1b2c3d4e5f60718",
    "security-group": "sg-0a1b2c3d4e5f60718",
    "instance": "i-0a1b2c3d4e5f60718",
}
STS_AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"

IdentityKind = Literal["irsa", "pod-identity", "node"]


@dataclass(frozen=True)
class Identity:
    """Whose credentials aws-node's SDK chain ends up with."""

    kind: IdentityKind
    role_arn: str
    namespace: str = "kube-system"
    service_account: str = "aws-node"
    audience: str = STS_AUDIENCE


@dataclass(frozen=True)
class Verdict:
    credentials: bool
    reason: str  # why no credentials, or "" when they were obtained
    missing: tuple[str, ...]  # essential actions not allowed (empty when credentials fail)

    @property
    def works(self) -> bool:
        return self.credentials and not self.missing


@dataclass(frozen=True)
class Context:
    """What the judgement needs besides IAM: the cluster's facts."""

    account: str
    region: str
    issuer: str  # https://oidc.eks.<region>.amazonaws.com/id/<id>
    ip_family: str = "ipv4"
    pod_identity_agent: bool = False  # the eks-pod-identity-agent add-on is installed
    cluster_name: str = ""  # for the session tags EKS Pod Identity sets


def judge(iam: Any, identity: Identity, ctx: Context) -> Verdict:
    """The verdict for ``identity`` against the IAM state ``iam`` (a boto3 IAM client) holds."""
    role_name = identity.role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return Verdict(False, f"role {identity.role_arn} does not exist", ())
    if role["Arn"] != identity.role_arn:
        return Verdict(False, f"role {identity.role_arn} does not exist", ())
    trust = _document(role["AssumeRolePolicyDocument"])
    if identity.kind == "irsa":
        reason = _irsa_reason(iam, trust, identity, ctx)
    elif identity.kind == "pod-identity":
        reason = _pod_identity_reason(trust, identity, ctx)
    else:
        reason = ""
    if reason:
        return Verdict(False, reason, ())
    policies = _role_policies(iam, role_name)
    boundary_arn = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    boundary = _managed_document(iam, boundary_arn) if boundary_arn else None
    actions = IPV6_ACTIONS if ctx.ip_family == "ipv6" else IPV4_ACTIONS
    missing = tuple(
        action
        for action in actions
        if not all(
            _allowed(policies, action, resource)
            and (boundary is None or _allowed([boundary], action, resource))
            for resource in _resources(action, ctx)
        )
    )
    return Verdict(True, "", missing)


# credentials ---------------------------------------------------------------------------------


def _irsa_reason(iam: Any, trust: dict[str, Any], identity: Identity, ctx: Context) -> str:
    host = ctx.issuer.removeprefix("https://")
    provider_arn = f"arn:aws:iam::{ctx.account}:oidc-provider/{host}"
    listed = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    if provider_arn not in listed:
        return f"no IAM OIDC provider for {host}"
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    if provider["Url"].removeprefix("https://") != host:
        return f"the OIDC provider's URL is not {host}"
    if identity.audience not in provider.get("ClientIDList", []):
        return f"the OIDC provider does not list the client id {identity.audience}"
    subject = f"system:serviceaccount:{identity.namespace}:{identity.service_account}"
    context = {f"{host}:sub": subject, f"{host}:aud": identity.audience}

    def principal_ok(statement: dict[str, Any]) -> bool:
        return provider_arn in _strings(_principal(statement).get("Federated"))

    action = "sts:AssumeRoleWithWebIdentity"
    if _trusted(trust, action, principal_ok, context):
        return ""
    return f"the trust policy does not let {subject} (aud {identity.audience}) call {action}"


def _pod_identity_reason(trust: dict[str, Any], identity: Identity, ctx: Context) -> str:
    if not ctx.pod_identity_agent:
        return "the eks-pod-identity-agent add-on is not installed"

    def principal_ok(statement: dict[str, Any]) -> bool:
        return POD_IDENTITY_PRINCIPAL in _strings(_principal(statement).get("Service"))

    # the session tags the EKS user guide lists (pod-id-abac: "List of session tags added by EKS
    # Pod Identity"); aws:SourceArn is not documented for Pod Identity, so a condition on it is
    # not understood (and an Allow with it counts for nothing)
    context = {
        "aws:SourceAccount": ctx.account,
        "aws:RequestTag/eks-cluster-arn": (
            f"arn:aws:eks:{ctx.region}:{ctx.account}:cluster/{ctx.cluster_name}"
        ),
        "aws:RequestTag/eks-cluster-name": ctx.cluster_name,
        "aws:RequestTag/kubernetes-namespace": identity.namespace,
        "aws:RequestTag/kubernetes-service-account": identity.service_account,
    }
    for action in ("sts:AssumeRole", "sts:TagSession"):
        if not _trusted(trust, action, principal_ok, context):
            return f"the trust policy does not let {POD_IDENTITY_PRINCIPAL} call {action}"
    return ""


def _trusted(
    trust: dict[str, Any],
    action: str,
    principal_ok: Any,
    context: dict[str, str],
) -> bool:
    allowed = False
    for statement in _statements(trust):
        if not principal_ok(statement) or not _action_matches(statement, action):
            continue
        applies = _conditions_hold(statement.get("Condition", {}), context)
        if statement.get("Effect") == "Deny" and (applies or applies is None):
            return False
        if statement.get("Effect") == "Allow" and applies:
            allowed = True
    return allowed


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool | None:
    """True/False for StringEquals/StringLike on keys in ``context``; None when not understood."""
    for operator, tests in conditions.items():
        if operator not in ("StringEquals", "StringLike"):
            return None
        for key, expected in tests.items():
            if key not in context:
                return None
            patterns = _strings(expected)
            value = context[key]
            if operator == "StringEquals" and value not in patterns:
                return False
            if operator == "StringLike" and not any(
                _wildcard(p, case=True).fullmatch(value) for p in patterns
            ):
                return False
    return True


# permissions ---------------------------------------------------------------------------------


def _role_policies(iam: Any, role_name: str) -> list[dict[str, Any]]:
    documents = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        documents += [_managed_document(iam, p["PolicyArn"]) for p in page["AttachedPolicies"]]
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        for name in page["PolicyNames"]:
            got = iam.get_role_policy(RoleName=role_name, PolicyName=name)
            documents.append(_document(got["PolicyDocument"]))
    return documents


def _managed_document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    got = iam.get_policy_version(PolicyArn=arn, VersionId=version)
    return _document(got["PolicyVersion"]["Document"])


def _resources(action: str, ctx: Context) -> list[str]:
    kinds = _RESOURCES.get(action)
    if kinds is None:
        return ["*"]
    return [f"arn:aws:ec2:{ctx.region}:{ctx.account}:{k}/{_SAMPLE_IDS[k]}" for k in kinds]


def _allowed(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if not _action_matches(statement, action) or not _resource_matches(statement, resource):
                continue
            if statement.get("Effect") == "Deny":
                return False  # an explicit Deny wins, with or without conditions
            if statement.get("Effect") == "Allow" and not statement.get("Condition"):
                allowed = True
    return allowed


def _action_matches(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            _wildcard(p, case=False).fullmatch(action) for p in _strings(statement["NotAction"])
        )
    return any(
        _wildcard(p, case=False).fullmatch(action) for p in _strings(statement.get("Action"))
    )


def _resource_matches(statement: dict[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_matches_resource(p, resource) for p in _strings(statement["NotResource"]))
    return any(_matches_resource(p, resource) for p in _strings(statement.get("Resource")))


def _matches_resource(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    return resource != "*" and bool(_wildcard(pattern, case=True).fullmatch(resource))


# documents -----------------------------------------------------------------------------------


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = json.loads(unquote(raw))
    assert isinstance(raw, dict), raw
    return raw


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _principal(statement: dict[str, Any]) -> dict[str, Any]:
    principal = statement.get("Principal", {})
    return principal if isinstance(principal, dict) else {}


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


@cache
def _wildcard(pattern: str, *, case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case else re.IGNORECASE)
