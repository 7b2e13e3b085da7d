"""EKS bearer tokens from AWS credentials, made the way ``aws eks get-token`` makes them.

The token is a presigned STS ``GetCallerIdentity`` URL whose signature covers the header
``x-k8s-aws-id: <cluster name>``; the cluster's authenticator replays it to learn who is calling.
Nothing is sent to AWS here: presigning is local.
"""

from __future__ import annotations

import base64
from typing import Any

import boto3

TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105 (a format marker, not a secret)
CLUSTER_ID_HEADER = "x-k8s-aws-id"
URL_EXPIRES_SECONDS = 60  # as the AWS CLI; EKS accepts the token for 15 minutes from signing


def eks_token(session: boto3.Session, cluster_name: str, region: str) -> str:
    """A bearer token for ``cluster_name``, signed with ``session``'s credentials."""
    sts = session.client("sts", region_name=region)
    events = sts.meta.events
    events.register("provide-client-params.sts.GetCallerIdentity", _take_cluster_id)
    events.register("before-sign.sts.GetCallerIdentity", _sign_cluster_id_header)
    url = sts.generate_presigned_url(
        "get_caller_identity",
        Params={CLUSTER_ID_HEADER: cluster_name},
        ExpiresIn=URL_EXPIRES_SECONDS,
        HttpMethod="GET",
    )
    encoded = base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
    return TOKEN_PREFIX + encoded


def _take_cluster_id(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """GetCallerIdentity has no such parameter: move it aside before botocore validates."""
    if CLUSTER_ID_HEADER in params:
        context[CLUSTER_ID_HEADER] = params.pop(CLUSTER_ID_HEADER)


def _sign_cluster_id_header(request: Any, **_: Any) -> None:
    if CLUSTER_ID_HEADER in request.context:
        request.headers[CLUSTER_ID_HEADER] = request.context[CLUSTER_ID_HEADER]
