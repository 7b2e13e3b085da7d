"""The EC2 actions the VPC CNI needs (domain.md A1), and where in EC2 it uses them.

Audit by action set, never by policy name or version: customer copies of the managed policy lag
behind its versions, and ``ec2:*`` grants the same.
"""

from __future__ import annotations

# AmazonEKS_CNI_Policy v6 (2026-03-04), the IPv4 action set.
IPV4_ACTIONS: tuple[str, ...] = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeInstances",
    "ec2:DescribeTags",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:UnassignPrivateIpAddresses",
    "ec2:CreateTags",
)

# The EKS user guide's AmazonEKS_CNI_IPv6_Policy.
IPV6_ACTIONS: tuple[str, ...] = (
    "ec2:AssignIpv6Addresses",
    "ec2:DescribeInstances",
    "ec2:DescribeTags",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeInstanceTypes",
    "ec2:CreateTags",
)

# Without these aws-node cannot start or give pods addresses. The rest of a set (added in later
# policy versions: DescribeInstanceTypes, DescribeSubnets, DescribeSecurityGroups) is reported as
# "recommended" when missing, not as a broken CNI.
ESSENTIAL_IPV4: tuple[str, ...] = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DetachNetworkInterface",
    "ec2:UnassignPrivateIpAddresses",
)
ESSENTIAL_IPV6: tuple[str, ...] = (
    "ec2:AssignIpv6Addresses",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
)

# The ENI-changing subset: on a node role these are what every pod on the node can misuse.
MUTATING_ACTIONS: tuple[str, ...] = (
    "ec2:CreateNetworkInterface",
    "ec2:AttachNetworkInterface",
    "ec2:DetachNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "ec2:AssignIpv6Addresses",
    "ec2:UnassignIpv6Addresses",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:CreateTags",
)

ALL_CNI_ACTIONS: tuple[str, ...] = tuple(
    dict.fromkeys(IPV4_ACTIONS + IPV6_ACTIONS + MUTATING_ACTIONS)
)

_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_ENI_CANONICAL = ("arn:aws:ec2:*:*:network-interface/*",)


def _examples(*kinds: str) -> tuple[str, ...]:
    ids = {
        "network-interface": "eni-0123456789abcdef0",
        "subnet": "subnet-0123456789abcdef0",
        "security-group": "sg-0123456789abcdef0",
        "instance": "i-0123456789abcdef0",
    }
    return tuple(
        f"arn:{p}:ec2:us-east-1:111122223333:{k}/{ids[k]}" for p in _PARTITIONS for k in kinds
    )


_ENI = _examples("network-interface")
_RESOURCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ec2:createnetworkinterface": (
        ("*",),
        _examples("network-interface", "subnet", "security-group"),
    ),
    "ec2:attachnetworkinterface": (("*",), _examples("network-interface", "instance")),
    "ec2:detachnetworkinterface": (("*",), _examples("network-interface", "instance")),
    "ec2:deletenetworkinterface": (("*",), _ENI),
    "ec2:assignprivateipaddresses": (("*",), _ENI),
    "ec2:unassignprivateipaddresses": (("*",), _ENI),
    "ec2:assignipv6addresses": (("*",), _ENI),
    "ec2:unassignipv6addresses": (("*",), _ENI),
    "ec2:modifynetworkinterfaceattribute": (("*",), _ENI),
    "ec2:createtags": (_ENI_CANONICAL, _ENI),
}


def resource_space(action: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(canonical patterns, example ARNs) of the resources an action is used on.

    Describe* calls take no resource-level permissions, so only ``*`` serves them.
    """
    return _RESOURCES.get(action.lower(), (("*",), ()))


def required_actions(ip_family: str | None) -> tuple[str, ...]:
    return IPV6_ACTIONS if ip_family == "ipv6" else IPV4_ACTIONS


def essential_actions(ip_family: str | None) -> tuple[str, ...]:
    return ESSENTIAL_IPV6 if ip_family == "ipv6" else ESSENTIAL_IPV4
