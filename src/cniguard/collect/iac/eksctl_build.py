"""What one eksctl ClusterConfig builds: the roles it creates and the defaults they share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.marked_yaml import MarkedDict
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import (
    Gap,
    NodeGroup,
    PodIdentityAssociation,
    PolicyAttachment,
    Role,
)
from cniguard.model.kube import ServiceAccount

KUBE_SYSTEM, AWS_NODE = "kube-system", "aws-node"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
NODE_DEFAULTS = ("AmazonEKSWorkerNodePolicy", "AmazonSSMManagedInstanceCore")
ECR_PULL = "AmazonEC2ContainerRegistryPullOnly"
EFS_EC2_ACTIONS = (
    "ec2:DescribeSubnets",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:DescribeNetworkInterfaceAttribute",
)


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def enabled(value: Any, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def line_of(node: Any, key: str | None = None) -> int | None:
    if isinstance(node, MarkedDict):
        return node.line_of(key) if key is not None else node.line
    return None


@dataclass
class Build:
    """What one ClusterConfig creates."""

    file: str
    name: str
    cluster_id: str
    region: str
    issuer: str
    ipv6: bool
    with_oidc: bool
    tags: dict[str, str]  # metadata.tags: eksctl tags every stack, and stacks tag their roles
    roles: list[Role] = field(default_factory=list)
    node_groups: list[NodeGroup] = field(default_factory=list)
    associations: list[PodIdentityAssociation] = field(default_factory=list)
    service_accounts: list[ServiceAccount] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    default_cni: list[str] = field(default_factory=list)  # roles given the CNI policy by default

    @property
    def partition(self) -> str:
        return (
            "aws-cn"
            if self.region.startswith("cn-")
            else ("aws-us-gov" if self.region.startswith("us-gov-") else "aws")
        )

    def origin(self, node: Any, key: str | None = None) -> Origin:
        return Origin(source="iac", file=self.file, line=line_of(node, key))

    def managed(self, name: str) -> str:
        return synthetic.aws_managed_arn(name, self.partition)

    def role(
        self,
        name: str,
        trust: JsonDict,
        origin: Origin,
        arns: Sequence[str] = (),
        *,
        inline: Sequence[PolicyAttachment] = (),
        boundary: str | None = None,
    ) -> str:
        arn = synthetic.role_arn(name)
        if any(r.arn == arn for r in self.roles):  # one role shared by several parts
            return arn
        boundary_document = synthetic.managed_attachment(boundary, origin) if boundary else None
        if boundary and boundary_document is not None and boundary_document.document is None:
            self.gaps.append(
                Gap(
                    what="iac:policy",
                    resource=self.file,
                    line=origin.line,
                    cluster=self.cluster_id,
                    reason=f"permissions boundary {boundary} of role {name} is not defined in "
                    "the scanned files: the role's effective permissions are unknown",
                )
            )
        self.roles.append(
            Role(
                arn=arn,
                name=name,
                account=synthetic.ACCOUNT,
                trust_policy=trust,
                policies=tuple(synthetic.managed_attachment(a, origin) for a in arns)
                + tuple(inline),
                permissions_boundary_arn=boundary,
                permissions_boundary=boundary_document.document if boundary_document else None,
                tags=dict(self.tags),
                origin=origin,
            )
        )
        return arn

    def dedicated_role(
        self, spec: Mapping[str, Any], role_name: str, origin: Origin, trust: JsonDict
    ) -> str:
        """The role an add-on, iamserviceaccount or pod identity entry names or has created."""
        given = next(
            (spec[k] for k in ("roleARN", "serviceAccountRoleARN", "attachRoleARN") if spec.get(k)),
            None,
        )
        if isinstance(given, str):
            return given
        arns = [
            str(a)
            for a in as_list(spec.get("attachPolicyARNs") or spec.get("permissionPolicyARNs"))
        ]
        inline: list[PolicyAttachment] = []
        document = spec.get("attachPolicy") or spec.get("permissionPolicy")
        if isinstance(document, Mapping):
            inline.append(
                PolicyAttachment(
                    name="Policy1", kind="inline", document=dict(document), origin=origin
                )
            )
        if as_map(spec.get("wellKnownPolicies")):
            self.gaps.append(
                Gap(
                    what="iac:policy",
                    resource=self.file,
                    line=origin.line,
                    cluster=self.cluster_id,
                    reason="wellKnownPolicies are expanded by eksctl at deploy time; their "
                    "statements are not modelled",
                )
            )
            inline.append(
                PolicyAttachment(
                    name="wellKnownPolicies", kind="inline", document=None, origin=origin
                )
            )
        name = spec.get("roleName")
        boundary = spec.get("permissionsBoundary") or spec.get("permissionsBoundaryARN")
        return self.role(
            str(name) if isinstance(name, str) else role_name,
            trust,
            origin,
            arns,
            inline=inline,
            boundary=boundary if isinstance(boundary, str) else None,
        )
