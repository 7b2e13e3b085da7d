"""Emulations of widely used registry modules, written in HCL and run by the same evaluator.

Registry modules are not downloaded. Each emulation keeps the upstream module's variable names,
defaults and resource addresses for everything that decides CNI permissions, so the generic
resource mapper reads it like the real code (which is used instead when ``terraform init`` left it
in ``.terraform/modules``).
"""

from __future__ import annotations

import re

from cniguard.collect.iac.terraform.registry import community, eks, iam, pod_identity

_SOURCE = re.compile(
    r"^(?:registry\.terraform\.io/|git::https://github\.com/|github\.com/|https://github\.com/)?"
    r"terraform-aws-modules/(?:terraform-aws-)?(?P<name>eks-pod-identity|eks|iam)"
    r"(?:/aws)?(?:\.git)?(?://(?P<sub>[^?]+))?(?:\?ref=(?P<ref>\S+))?$"
)

SHIMS: dict[str, tuple[str | None, dict[str, str]]] = {
    "eks": (None, eks.ROOT),
    "eks//modules/eks-managed-node-group": (None, eks.MANAGED_NODE_GROUP),
    "eks//modules/self-managed-node-group": (None, eks.SELF_MANAGED_NODE_GROUP),
    "eks//modules/fargate-profile": (None, eks.FARGATE_PROFILE),
    "eks//modules/karpenter": ("karpenter", eks.KARPENTER),
    "iam//modules/iam-role-for-service-accounts-eks": (None, iam.IRSA_V5),
    "iam//modules/iam-role-for-service-accounts": (None, iam.IRSA_V6),
    "eks-pod-identity": (None, pod_identity.POD_IDENTITY),
    "aws-ia/eks-blueprints-addons": (None, community.BLUEPRINTS_ADDONS),
    "cloudposse/eks-node-group": (None, community.CLOUDPOSSE_NODE_GROUP),
    "cloudposse/eks-cluster": (None, community.CLOUDPOSSE_CLUSTER),
    "cloudposse/label": (None, community.LABEL),
}
_COMMUNITY = re.compile(
    r"^(?:registry\.terraform\.io/|git::https://github\.com/|github\.com/|https://github\.com/)?"
    r"(?P<owner>aws-ia|cloudposse)/(?:terraform-(?:aws|null)-)?"
    r"(?P<name>eks-blueprints-addons|eks-node-group|eks-cluster|label)"
    r"(?:/(?:aws|null))?(?:\.git)?(?:\?ref=(?P<ref>\S+))?$"
)


def registry_key(source: str) -> tuple[str, str | None] | None:
    """(emulation key, ref) for a registry or GitHub source of a known module, else None."""
    community = _COMMUNITY.match(source.strip())
    if community is not None:
        key = f"{community['owner']}/{community['name']}"
        return (key, community["ref"]) if key in SHIMS else None
    match = _SOURCE.match(source.strip())
    if match is None:
        return None
    sub = (match["sub"] or "").strip("/")
    key = match["name"] + (f"//{sub}" if sub else "")
    return (key, match["ref"]) if key in SHIMS else None


def local_child(key: str, source: str) -> str | None:
    """The emulation a shim's own ``./modules/x`` call refers to."""
    if source.startswith("./modules/"):
        candidate = f"{key.split('//', maxsplit=1)[0]}//{source[2:]}"
        return candidate if candidate in SHIMS else None
    return None
