"""Node sources of a cluster: managed node groups, tagged Auto Scaling groups, EC2 access entries
and the instance metadata settings their launch templates give.
"""

from __future__ import annotations

from typing import Literal

from cniguard.collect.iac.terraform.mapping_base import (
    _ClusterRef,
    _first,
)
from cniguard.collect.iac.terraform.mapping_iam import IamMapper
from cniguard.collect.iac.terraform.records import ResourceInstance
from cniguard.collect.iac.terraform.values import Unknown, Value
from cniguard.model.inventory import (
    MetadataOptions,
    NodeGroup,
)


class NodeMapper(IamMapper):
    """The node groups of one cluster."""

    def launch_templates(self) -> dict[str, ResourceInstance]:
        templates: dict[str, ResourceInstance] = {}
        for item in self.by_type["aws_launch_template"]:
            if item.expansion is not None:
                continue  # a node group that names it finds no metadata options: unknown
            for key in ("id", "name"):
                if isinstance(item.values.get(key), str):
                    templates[item.values[key]] = item
        return templates

    def metadata(
        self, template: ResourceInstance | None, managed: bool, ami: Value = None
    ) -> MetadataOptions | None:
        """The instance metadata settings nodes get; what the launch template leaves out is the
        platform default: hop limit 2 on managed node groups (EKS's launch template), 1 on
        self-managed ones (EC2), IMDSv1 allowed on AL2 AMIs and not on AL2023 / Bottlerocket."""
        if template is None:
            return None
        options = _first(template.values.get("metadata_options"))
        block = template.values.get("metadata_options")
        tokens, hops = options.get("http_tokens"), options.get("http_put_response_hop_limit")
        endpoint = options.get("http_endpoint")
        if isinstance(block, Unknown) or isinstance(tokens, Unknown) or isinstance(hops, Unknown):
            return None
        return MetadataOptions(
            http_tokens=tokens if tokens in ("required", "optional") else _ami_tokens(ami),
            hop_limit=int(hops) if isinstance(hops, int | float) else 2 if managed else 1,
            http_endpoint=endpoint if endpoint in ("enabled", "disabled") else "enabled",
            origin=self.origin(template, "metadata_options" if options else None),
        )

    def eks_default_metadata(self, item: ResourceInstance, ami: Value) -> MetadataOptions:
        """A managed node group without a launch template runs on EKS's own: hop limit 2."""
        return MetadataOptions(
            http_tokens=_ami_tokens(ami),
            hop_limit=2,
            http_endpoint="enabled",
            origin=item.origin,
        )

    def template_of(
        self, block: Value, templates: dict[str, ResourceInstance]
    ) -> ResourceInstance | None:
        spec = _first(block)
        for key in ("id", "name"):
            if isinstance(spec.get(key), str) and spec[key] in templates:
                return templates[spec[key]]
        return None

    def candidates(self, item: ResourceInstance, value: Value, ref: _ClusterRef) -> bool:
        """Whether a node source may belong to this cluster. Nodes that may belong are counted
        (a node role that may carry the CNI policy is flagged), with a gap saying why."""
        place = self.placement(item, value)
        if ref not in place.clusters:
            return False
        if not place.certain:
            self.gap(item, f"{place.why} (counted as this cluster's)", ref.id, "cluster_name")
        return True

    def node_groups(self, ref: _ClusterRef) -> list[NodeGroup]:
        templates = self.launch_templates()
        groups: list[NodeGroup] = []
        for item in self.by_type["aws_eks_node_group"]:
            if not self.candidates(item, item.values.get("cluster_name"), ref):
                continue
            role = self.role_ref(item, "node_role_arn", ref.id)
            ami = item.values.get("ami_type")
            name = item.values.get("node_group_name")
            groups.append(
                NodeGroup(
                    name=name if isinstance(name, str) else item.address,
                    kind="managed",
                    role_arn=role,
                    os="windows" if isinstance(ami, str) and ami.startswith("WINDOWS") else "linux",
                    ami_type=ami if isinstance(ami, str) else None,
                    metadata_options=(
                        self.metadata(
                            self.template_of(item.values.get("launch_template"), templates),
                            True,
                            ami,
                        )
                        if item.values.get("launch_template")
                        else self.eks_default_metadata(item, ami)
                    ),
                    origin=item.origin,
                )
            )
        profiles = self.instance_profiles()
        for item in self.by_type["aws_autoscaling_group"]:
            if not self.candidates(item, self.tagged_cluster(item), ref):
                continue
            template = self.template_of(item.values.get("launch_template"), templates)
            profile = _first(template.values.get("iam_instance_profile")) if template else {}
            keys = [
                v if isinstance(v, str) else f"@{v.owner}"
                for v in profile.values()
                if isinstance(v, str) or (isinstance(v, Unknown) and v.owner)
            ]
            role = next((profiles[k] for k in keys if k in profiles), None)
            if role is None:
                self.gap(
                    item,
                    "cannot tell the node role (launch template instance profile "
                    "not found in the code)",
                    ref.id,
                    "launch_template",
                )
            groups.append(
                NodeGroup(
                    name=str(item.values.get("name") or item.address),
                    kind="self_managed",
                    role_arn=role,
                    metadata_options=self.metadata(template, False),
                    origin=item.origin,
                )
            )
        known_roles = {g.role_arn for g in groups}
        for item in self.by_type["aws_eks_access_entry"]:
            kind = item.values.get("type")
            if kind not in ("EC2_LINUX", "EC2_WINDOWS") and not isinstance(kind, Unknown):
                continue
            if not self.candidates(item, item.values.get("cluster_name"), ref):
                continue
            principal = self.role_ref(item, "principal_arn", ref.id)
            if principal is not None and principal in known_roles:
                continue
            groups.append(
                NodeGroup(
                    name=item.address,
                    kind="karpenter" if item.module_kind == "karpenter" else "unknown",
                    role_arn=principal,
                    os="windows" if kind == "EC2_WINDOWS" else "linux",
                    origin=item.origin,
                )
            )
        return groups

    def tagged_cluster(self, item: ResourceInstance) -> Value:
        """The cluster an Auto Scaling group's ``kubernetes.io/cluster/<name>`` tag names."""
        for tag in item.values.get("tag") or []:
            key = tag.get("key") if isinstance(tag, dict) else None
            if isinstance(key, str) and key.startswith("kubernetes.io/cluster/"):
                return key.removeprefix("kubernetes.io/cluster/")
            if isinstance(key, Unknown):
                return key
        return None


def _ami_tokens(ami: Value) -> Literal["required", "optional"] | None:
    """Whether an EKS AMI family allows IMDSv1 by default (AL2 does; AL2023 and Bottlerocket
    require IMDSv2); None when the AMI is not told."""
    if isinstance(ami, str) and ami.startswith("AL2_"):
        return "optional"
    if isinstance(ami, str) and ami.startswith(("AL2023_", "BOTTLEROCKET_")):
        return "required"
    return None
