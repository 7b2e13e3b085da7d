"""Which clusters get Kubernetes state and how (export, kubeconfig context, EKS token), and the
role ARNs that state names. The Kubernetes readers are imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import boto3

from cniguard.collect.aws.drafts import ClusterDraft
from cniguard.collect.options import LiveOptions
from cniguard.model.inventory import Gap
from cniguard.model.kube import KubeState

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
CNI_NAMESPACE, CNI_ACCOUNT = "kube-system", "aws-node"
Remaining = Callable[[], float | None]  # seconds left before the scan's deadline


@dataclass(frozen=True)
class KubeRequest:
    """How to read one cluster: an export path, a kubeconfig context, or (neither) an EKS token."""

    export: str | None = None
    context: str | None = None


def kube_requests(options: LiveOptions) -> dict[str, KubeRequest]:
    """Per cluster name or ARN; an export wins over a context for the same cluster."""
    found = {cluster: KubeRequest(context=ctx) for cluster, ctx in options.kube_contexts}
    found.update({cluster: KubeRequest(export=path) for cluster, path in options.kube_exports})
    return found


def read_kube(
    request: KubeRequest, draft: ClusterDraft, session: boto3.Session, remaining: Remaining
) -> tuple[KubeState | None, list[Gap]]:
    """The cluster's Kubernetes state; a failure to connect is a gap, the state stays unread.

    Gaps are placed on the cluster's account and region as well as on the cluster.
    """
    state, gaps = _read(request, draft, session, remaining)
    return state, [
        replace(
            g,
            account=g.account or draft.account,
            region=g.region or draft.region,
            cluster=g.cluster or draft.arn,
        )
        for g in gaps
    ]


def _read(
    request: KubeRequest, draft: ClusterDraft, session: boto3.Session, remaining: Remaining
) -> tuple[KubeState | None, list[Gap]]:
    arn = draft.arn
    from cniguard.collect import kubernetes as kube

    if request.export is not None:
        return kube.read_export(Path(request.export), cluster=arn)
    try:
        if request.context is not None:
            api = kube.api_client_for_context(request.context)
        else:
            info = draft.info or {}
            endpoint = info.get("endpoint")
            ca_data = (info.get("certificateAuthority") or {}).get("data")
            if not endpoint or not ca_data:
                return None, [_gap(draft, "the cluster has no endpoint or CA in DescribeCluster")]
            token = kube.eks_token(session, draft.name, draft.region)
            api = kube.api_client_for_eks(endpoint, ca_data, token)
        return kube.read_live(api, cluster=arn, context=request.context, remaining=remaining)
    except Exception as exc:  # any client, TLS or connection error: this cluster only
        return None, [_gap(draft, f"cannot connect: {type(exc).__name__}: {exc}"[:400])]


def _gap(draft: ClusterDraft, reason: str) -> Gap:
    return Gap(
        what="k8s", reason=reason, account=draft.account, region=draft.region, cluster=draft.arn
    )


def kube_roles(state: KubeState | None) -> Iterator[str]:
    """Role ARNs the aws-node ServiceAccount, its pods and aws-auth node entries name."""
    if state is None:
        return
    for account in state.service_accounts or ():
        if (account.namespace, account.name) == (CNI_NAMESPACE, CNI_ACCOUNT):
            arn = account.annotations.get(ROLE_ANNOTATION)
            if arn:
                yield arn
    for pod in state.pods or ():
        if pod.namespace == CNI_NAMESPACE and pod.service_account == CNI_ACCOUNT:
            for container in pod.containers:
                arn = container.env_value("AWS_ROLE_ARN")
                if arn:
                    yield arn
    for entry in state.aws_auth or ():
        if ":role/" in entry.role_arn:
            yield entry.role_arn
