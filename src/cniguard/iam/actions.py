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

# The EC2 resource types each ENI-changing call authorizes (the Service Authorization Reference's
# "resource types" of the action). The call needs every one of them; Describe* calls take no
# resource-level permission, so only "*" serves them.
_RESOURCE_TYPES: dict[str, tuple[str, ...]] = {
    "ec2:createnetworkinterface": ("network-interface", "subnet", "security-group"),
    "ec2:attachnetworkinterface": ("network-interface", "instance"),
    "ec2:detachnetworkinterface": ("network-interface", "instance"),
    "ec2:deletenetworkinterface": ("network-interface",),
    "ec2:assignprivateipaddresses": ("network-interface",),
    "ec2:unassignprivateipaddresses": ("network-interface",),
    "ec2:assignipv6addresses": ("network-interface",),
    "ec2:unassignipv6addresses": ("network-interface",),
    "ec2:modifynetworkinterfaceattribute": ("network-interface",),
    "ec2:createtags": ("network-interface",),
}


def resource_types(action: str) -> tuple[str, ...]:
    """The EC2 resource types ``action`` is authorized on; ``("*",)`` for Describe* calls."""
    return _RESOURCE_TYPES.get(action.lower(), ("*",))


def required_actions(ip_family: str | None) -> tuple[str, ...]:
    return IPV6_ACTIONS if ip_family == "ipv6" else IPV4_ACTIONS


def essential_actions(ip_family: str | None) -> tuple[str, ...]:
    return ESSENTIAL_IPV6 if ip_family == "ipv6" else ESSENTIAL_IPV4
