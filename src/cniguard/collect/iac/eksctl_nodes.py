"""eksctl node groups, Karpenter and mapped node roles into node groups and their roles
(pkg/cfn/builder/iam_helper.go, karpenter.go; aws-auth mappings and EC2 access entries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.eksctl_build import (
    ECR_PULL,
    EFS_EC2_ACTIONS,
    NODE_DEFAULTS,
    Build,
    as_list,
    as_map,
    enabled,
)
from cniguard.model.common import Origin
from cniguard.model.inventory import (
    AccessEntry,
    MetadataOptions,
    NodeGroup,
    PolicyAttachment,
)


def metadata_options(ng: Mapping[str, Any], origin: Origin) -> MetadataOptions | None:
    if ng.get("launchTemplate"):  # the user's own launch template decides; it is not in the file
        return None
    pod_imds = enabled(ng.get("disablePodIMDS"), False)
    v1_off = enabled(ng.get("disableIMDSv1"), True)
    return MetadataOptions(
        http_tokens="required" if v1_off or pod_imds else "optional",
        hop_limit=1 if pod_imds else 2,
        origin=origin,
    )


def node_group(b: Build, ng: Mapping[str, Any], managed: bool) -> None:
    name = str(ng.get("name", "ng"))
    origin = b.origin(ng)
    iam = as_map(ng.get("iam"))
    family = str(ng.get("amiFamily", ""))
    windows = family.startswith("WindowsServer")
    role_arn = iam.get("instanceRoleARN")
    if not isinstance(role_arn, str):
        attach = [str(a) for a in as_list(iam.get("attachPolicyARNs"))]
        names: set[str] = set()
        if not attach:
            names.update(NODE_DEFAULTS)
            if not b.with_oidc:
                names.add(synthetic.CNI_POLICY)
            if managed:
                names.add(ECR_PULL)
        addon_policies = as_map(iam.get("withAddonPolicies"))
        if addon_policies.get("imageBuilder") is True:
            names.add("AmazonEC2ContainerRegistryPowerUser")
        elif not managed:
            names.add(ECR_PULL)
        if addon_policies.get("cloudWatch") is True:
            names.add("CloudWatchAgentServerPolicy")
        for arn in attach:
            names.discard(arn.rsplit("/", 1)[-1])
        inline = []
        if addon_policies.get("efs") is True:
            inline.append(
                PolicyAttachment(
                    name="PolicyEFSEC2",
                    kind="inline",
                    origin=origin,
                    document={
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Resource": "*", "Action": list(EFS_EC2_ACTIONS)}
                        ],
                    },
                )
            )
        role_name = iam.get("instanceRoleName")
        role_arn = b.role(
            str(role_name)
            if isinstance(role_name, str)
            else f"eksctl-{b.name}-nodegroup-{name}-NodeInstanceRole",
            synthetic.ec2_trust(),
            origin,
            attach + [b.managed(n) for n in sorted(names)],
            inline=inline,
            boundary=iam.get("instanceRolePermissionsBoundary")
            if isinstance(iam.get("instanceRolePermissionsBoundary"), str)
            else None,
        )
        if synthetic.CNI_POLICY in names:
            b.default_cni.append(role_arn)
    desired = ng.get("desiredCapacity")
    b.node_groups.append(
        NodeGroup(
            name=name,
            kind="managed" if managed else "self_managed",
            role_arn=role_arn,
            os="windows" if windows else "linux",
            ami_type=family or None,
            metadata_options=metadata_options(ng, origin),
            instance_count=desired if isinstance(desired, int) else None,
            origin=origin,
        )
    )


_NODE_ENTRY_TYPES = {"EC2": "linux", "EC2_LINUX": "linux", "EC2_WINDOWS": "windows"}


def mapped_node_roles(b: Build, doc: Mapping[str, Any]) -> list[AccessEntry]:
    """Roles ``iamIdentityMappings`` (groups system:nodes) or EC2 access entries let nodes join
    with: node groups whose role is defined elsewhere (joined by ARN across the scan)."""
    entries: list[AccessEntry] = []
    found: list[tuple[str, str, Origin]] = []
    for mapping in as_list(doc.get("iamIdentityMappings")):
        spec = as_map(mapping)
        groups = [str(g) for g in as_list(spec.get("groups"))]
        arn = spec.get("arn")
        nodes = "system:nodes" in groups or str(spec.get("username", "")).startswith("system:node:")
        if isinstance(arn, str) and ":role/" in arn and nodes:
            windows = "eks:kube-proxy-windows" in groups
            found.append((arn, "windows" if windows else "linux", b.origin(mapping)))
    for raw in as_list(as_map(doc.get("accessConfig")).get("accessEntries")):
        spec = as_map(raw)
        arn, kind = spec.get("principalARN"), str(spec.get("type", "STANDARD")).upper()
        if not isinstance(arn, str):
            continue
        entries.append(AccessEntry(principal_arn=arn, type=kind, origin=b.origin(raw)))
        if kind in _NODE_ENTRY_TYPES:
            found.append((arn, _NODE_ENTRY_TYPES[kind], b.origin(raw)))
    used = {g.role_arn for g in b.node_groups}
    for arn, os_name, origin in found:
        if arn in used:
            continue
        used.add(arn)
        karpenter = "KarpenterNodeRole" in arn
        b.node_groups.append(
            NodeGroup(
                name=synthetic.role_name_of(arn),
                kind="karpenter" if karpenter else "self_managed",
                role_arn=arn,
                os="windows" if os_name == "windows" else "linux",
                origin=origin,
            )
        )
    return entries


def karpenter(b: Build, spec: Mapping[str, Any]) -> None:
    origin = b.origin(spec)
    arn = b.role(
        f"eksctl-KarpenterNodeRole-{b.name}",
        synthetic.ec2_trust(),
        origin,
        [
            b.managed(n)
            for n in sorted(
                (
                    "AmazonEKSWorkerNodePolicy",
                    synthetic.CNI_POLICY,
                    ECR_PULL,
                    "AmazonSSMManagedInstanceCore",
                )
            )
        ],
    )
    b.node_groups.append(NodeGroup(name="karpenter", kind="karpenter", role_arn=arn, origin=origin))
