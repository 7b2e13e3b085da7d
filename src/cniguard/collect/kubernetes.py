"""Kubernetes state of a cluster, three ways: exports, a kubeconfig context, or an EKS token.

The collector of issue 3 calls only these names; the work is done in the ``kube_*`` modules:
``kube_export`` (``kubectl get -o json`` files), ``kube_live`` (the API through the official
client), ``kube_token`` (``aws eks get-token`` tokens) and ``kube_parse`` (JSON -> model, shared).
"""

from cniguard.collect.kube_export import read_export
from cniguard.collect.kube_live import (
    RBAC_RULES,
    RbacRule,
    api_client_for_context,
    api_client_for_eks,
    read_live,
)
from cniguard.collect.kube_token import eks_token

__all__ = [
    "RBAC_RULES",
    "RbacRule",
    "api_client_for_context",
    "api_client_for_eks",
    "eks_token",
    "read_export",
    "read_live",
]
