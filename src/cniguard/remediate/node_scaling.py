"""The managed node group calls of verify's scaling test (boto3), behind a small interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError


class ScalingError(Exception):
    """An EKS call of the scaling test failed (the message names the call and the error)."""


@dataclass(frozen=True)
class Scaling:
    desired: int
    minimum: int
    maximum: int
    status: str  # the node group's status: ACTIVE, UPDATING, ...


class NodeGroups(Protocol):
    """What the scaling test needs from EKS (the real one below; tests may pass another)."""

    def scaling(self, nodegroup: str) -> Scaling: ...

    def resize(self, nodegroup: str, desired: int, maximum: int) -> str: ...

    def update_status(self, nodegroup: str, update_id: str) -> tuple[str, list[str]]: ...


class EksNodeGroups:
    """One cluster's managed node groups through ``eks:DescribeNodegroup``,
    ``eks:UpdateNodegroupConfig`` and ``eks:DescribeUpdate``."""

    def __init__(self, session: boto3.Session, region: str, cluster: str) -> None:
        self.eks: Any = session.client("eks", region_name=region)
        self.cluster = cluster

    def scaling(self, nodegroup: str) -> Scaling:
        group = self._call("DescribeNodegroup", "describe_nodegroup", nodegroupName=nodegroup)
        info = group["nodegroup"]
        config = info.get("scalingConfig") or {}
        return Scaling(
            desired=int(config.get("desiredSize", 0)),
            minimum=int(config.get("minSize", 0)),
            maximum=int(config.get("maxSize", 0)),
            status=str(info.get("status", "")),
        )

    def resize(self, nodegroup: str, desired: int, maximum: int) -> str:
        """Set desired and max size (min unchanged); returns the update's id."""
        current = self.scaling(nodegroup)
        answer = self._call(
            "UpdateNodegroupConfig",
            "update_nodegroup_config",
            nodegroupName=nodegroup,
            scalingConfig={"minSize": current.minimum, "maxSize": maximum, "desiredSize": desired},
        )
        return str(answer["update"]["id"])

    def update_status(self, nodegroup: str, update_id: str) -> tuple[str, list[str]]:
        """The update's status (InProgress, Successful, Failed, Cancelled) and its errors."""
        answer = self._call(
            "DescribeUpdate", "describe_update", updateId=update_id, nodegroupName=nodegroup
        )
        update = answer["update"]
        errors = [
            str(e.get("errorMessage") or e.get("errorCode")) for e in update.get("errors") or []
        ]
        return str(update.get("status", "")), errors

    def _call(self, action: str, method: str, **params: Any) -> Any:
        cluster_param = "name" if method == "describe_update" else "clusterName"
        try:
            return getattr(self.eks, method)(**{cluster_param: self.cluster}, **params)
        except (ClientError, BotoCoreError) as exc:
            raise ScalingError(f"eks:{action} failed: {exc}") from None
