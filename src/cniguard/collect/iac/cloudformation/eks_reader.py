"""Reading a template's EKS resources: clusters, node groups, Auto Scaling groups, add-ons,
pod identity associations, access entries, Fargate profiles and nested stacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.cloudformation.assembly import ClusterDraft, NestedStack, Part
from cniguard.collect.iac.cloudformation.cdk import is_cdk_provider_stack
from cniguard.collect.iac.cloudformation.iam_reader import IamReader
from cniguard.collect.iac.cloudformation.intrinsics import unresolved
from cniguard.collect.iac.cloudformation.template import (
    CLUSTER_TYPES,
    PROVIDER_TYPES,
    is_cluster_type,
)
from cniguard.collect.iac.cloudformation.values import (
    metadata_options,
    platform_metadata,
    raw_node,
    tag_map,
    text_value,
)
from cniguard.model.inventory import (
    AccessEntry,
    Addon,
    Cluster,
    FargateProfile,
    MetadataOptions,
    NodeGroup,
    PodIdentityAssociation,
)


class Reader(IamReader):
    """Reads one template's resources into the assembly."""

    def read(self) -> None:
        handlers = {
            "AWS::IAM::Role": self.role,
            "AWS::IAM::Policy": self.policy,
            "AWS::IAM::ManagedPolicy": self.managed_policy,
            "AWS::IAM::RolePolicy": self.role_policy,
            "AWS::IAM::InstanceProfile": self.instance_profile,
            "AWS::EKS::Nodegroup": self.nodegroup,
            "AWS::EKS::Addon": self.addon,
            "AWS::EKS::PodIdentityAssociation": self.association,
            "AWS::EKS::AccessEntry": self.access_entry,
            "AWS::EKS::FargateProfile": self.fargate,
            "AWS::AutoScaling::AutoScalingGroup": self.auto_scaling_group,
            "AWS::CloudFormation::Stack": self.nested_stack,
        }
        for logical_id in self.t.resources:
            if not self.t.exists(logical_id):
                continue
            self.maybe_absent = self.t.maybe_absent(logical_id)
            kind = self.t.type_of(logical_id)
            if is_cluster_type(kind):
                self.cluster(logical_id, kind)
            elif kind in PROVIDER_TYPES:
                self.provider(logical_id, kind)
            elif kind in handlers:
                handlers[kind](logical_id)

    def cluster(self, logical_id: str, kind: str) -> None:
        t = self.t
        base: tuple[str, ...] = ()
        if kind == "Custom::AWSCDK-EKS-Cluster":  # CDK aws-eks: the API's camelCase under Config
            base, keys = (
                ("Config",),
                (
                    "kubernetesNetworkConfig",
                    "ipFamily",
                    "accessConfig",
                    "authenticationMode",
                    "version",
                ),
            )
        else:
            keys = (
                "KubernetesNetworkConfig",
                "IpFamily",
                "AccessConfig",
                "AuthenticationMode",
                "Version",
            )
        family = t.prop(logical_id, *base, keys[0], keys[1])
        auth = t.prop(logical_id, *base, keys[2], keys[3])
        version = t.prop(logical_id, *base, keys[4])
        auto = t.prop(logical_id, "ComputeConfig", "Enabled") is True
        node_role = t.prop(logical_id, "ComputeConfig", "NodeRoleArn")
        name = t.name(logical_id)
        cluster = Cluster(
            arn=t.cluster_id(logical_id),
            name=name,
            account=synthetic.ACCOUNT,
            region=synthetic.REGION,
            version=str(version) if version else None,
            ip_family="ipv6" if str(family or "ipv4").lower() == "ipv6" else "ipv4",
            oidc_issuer=t.issuer(logical_id),
            auto_mode=auto,
            auto_mode_node_role_arn=node_role if auto and isinstance(node_role, str) else None,
            authentication_mode=auth if isinstance(auth, str) else None,
            tags=tag_map(t.prop(logical_id, "Tags")) or {},
            origin=t.origin(logical_id),
        )
        draft = self.out.clusters.setdefault(cluster.arn, ClusterDraft(cluster, t.file))
        if kind not in CLUSTER_TYPES:  # a custom resource: what else its handler creates is unknown
            draft.unknown.update(("addons", "associations", "access_entries"))
            self.gap(
                "iac:cluster",
                f"cluster {name} is created by custom resource type {kind}: add-ons, pod "
                "identity associations and access entries its handler may create are unknown",
                logical_id,
            )

    def _cluster_name(self, logical_id: str) -> str:
        value = text_value(self.t.prop(logical_id, "ClusterName"))
        return value if value is not None else f"${{{logical_id}.ClusterName}}"

    def part(self, logical_id: str, item: Any, **extra: Any) -> None:
        self.out.parts.append(
            Part(
                self._cluster_name(logical_id),
                self.t.file,
                item,
                cluster_id=self.t.cluster_ref(logical_id),
                **extra,
            )
        )

    def metadata(
        self, source_id: str, options: Any, raw: Any, defaults: Mapping[str, Any]
    ) -> MetadataOptions:
        metadata, unreadable = metadata_options(options, self.t.origin(source_id), defaults)
        for what in unreadable:
            key = what.split(" ", 1)[0]
            node = raw.get(key) if isinstance(raw, Mapping) else raw
            self.gap(
                "iac:launch-template",
                f"metadata option {what} is not resolvable from the template; it is unknown",
                source_id,
                node,
            )
        return metadata

    def nodegroup(self, logical_id: str) -> None:
        t = self.t
        ami = text_value(t.prop(logical_id, "AmiType"))
        lt = t.prop(logical_id, "LaunchTemplate")
        metadata: MetadataOptions | None = None
        if not isinstance(lt, Mapping):  # EKS's own launch template: the platform defaults
            metadata = self.metadata(
                logical_id, None, None, platform_metadata(managed=True, ami=ami)
            )
        else:
            lt_id = t.launch_template(lt.get("Id") or lt.get("Name"))
            if lt_id is not None:
                image = text_value(t.prop(lt_id, "LaunchTemplateData", "ImageId"))
                metadata = self.metadata(
                    lt_id,
                    t.prop(lt_id, "LaunchTemplateData", "MetadataOptions"),
                    raw_node(t.props(lt_id), "LaunchTemplateData", "MetadataOptions"),
                    platform_metadata(managed=True, ami=image or ami),
                )
            else:
                self.gap(
                    "iac:launch-template",
                    "launch template is not defined in the template;"
                    " its metadata options are unknown",
                    logical_id,
                )
        desired = t.prop(logical_id, "ScalingConfig", "DesiredSize")
        role = self.role_reference(t.prop(logical_id, "NodeRole"), logical_id, "NodeRole")
        self.part(
            logical_id,
            NodeGroup(
                name=text_value(t.prop(logical_id, "NodegroupName")) or t.name(logical_id),
                kind="managed",
                role_arn=role,
                os="windows" if ami and ami.upper().startswith("WINDOWS") else "linux",
                ami_type=ami,
                metadata_options=metadata,
                instance_count=int(desired) if isinstance(desired, int) else None,
                origin=t.origin(logical_id),
            ),
        )

    def auto_scaling_group(self, logical_id: str) -> None:
        t = self.t
        spec = t.prop(logical_id, "LaunchTemplate") or t.prop(
            logical_id, "MixedInstancesPolicy", "LaunchTemplate", "LaunchTemplateSpecification"
        )
        profile: Any = None
        metadata: MetadataOptions | None = None
        if isinstance(spec, Mapping):
            lt_id = t.launch_template(
                spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")
            )
            if lt_id is None:
                self.gap(
                    "iac:launch-template",
                    "launch template is not defined in the template",
                    logical_id,
                )
            else:
                data = t.prop(lt_id, "LaunchTemplateData") or {}
                metadata = self.metadata(
                    lt_id,
                    data.get("MetadataOptions"),
                    raw_node(t.props(lt_id), "LaunchTemplateData", "MetadataOptions"),
                    platform_metadata(managed=False, ami=text_value(data.get("ImageId"))),
                )
                ip = data.get("IamInstanceProfile")
                profile = ip.get("Arn") or ip.get("Name") if isinstance(ip, Mapping) else None
        else:
            config = t.prop(logical_id, "LaunchConfigurationName")
            lc_id = config.strip("${}") if isinstance(config, str) else ""
            if t.type_of(lc_id) != "AWS::AutoScaling::LaunchConfiguration":
                self.gap(
                    "iac:launch-template",
                    "no launch template or configuration in the template",
                    logical_id,
                )
            else:
                metadata = self.metadata(
                    lc_id,
                    t.prop(lc_id, "MetadataOptions"),
                    raw_node(t.props(lc_id), "MetadataOptions"),
                    platform_metadata(managed=False, ami=text_value(t.prop(lc_id, "ImageId"))),
                )
                profile = t.prop(lc_id, "IamInstanceProfile")
        cluster, cluster_id = self._asg_cluster(logical_id)
        if cluster is None:
            self.gap(
                "iac:node-group",
                "cannot tell which cluster this Auto Scaling group joins "
                "(no kubernetes.io/cluster/<name> tag)",
                logical_id,
            )
            return
        desired = t.prop(logical_id, "DesiredCapacity")
        self.out.parts.append(
            Part(
                cluster,
                t.file,
                NodeGroup(
                    name=t.name(logical_id),
                    kind="self_managed",
                    role_arn=None,
                    metadata_options=metadata,
                    instance_count=int(desired)
                    if isinstance(desired, int | str) and str(desired).isdigit()
                    else None,
                    origin=t.origin(logical_id),
                ),
                profile=profile if isinstance(profile, str) else "?",
                cluster_id=cluster_id,
            )
        )

    def _asg_cluster(self, logical_id: str) -> tuple[str | None, str | None]:
        """The cluster name an Auto Scaling group's tags give, else this template's only cluster
        (then its id too)."""
        tags = self.t.prop(logical_id, "Tags")
        for tag in tags if isinstance(tags, list) else []:
            if not isinstance(tag, Mapping):
                continue
            key, value = str(tag.get("Key", "")), tag.get("Value")
            if key.startswith("kubernetes.io/cluster/"):
                return key.removeprefix("kubernetes.io/cluster/"), None
            if key in ("eks:cluster-name", "alpha.eksctl.io/cluster-name") and isinstance(
                value, str
            ):
                return value, None
        local = [c for c in self.t.resources if is_cluster_type(self.t.type_of(c))]
        if len(local) != 1:
            return None, None
        return self.t.name(local[0]), self.t.cluster_id(local[0])

    def addon(self, logical_id: str) -> None:
        t = self.t
        name = str(t.prop(logical_id, "AddonName") or logical_id)
        owner = f"cfn:{t.file}#{logical_id}"
        ids: list[str] = []
        raw = t.props(logical_id).get("PodIdentityAssociations")
        for index, entry in enumerate(t.prop(logical_id, "PodIdentityAssociations") or []):
            if not isinstance(entry, Mapping) or name != "vpc-cni":
                continue
            node = raw[index] if isinstance(raw, list) and index < len(raw) else None
            sa = str(entry.get("ServiceAccount", ""))
            association_id = f"{owner}/{sa}"
            ids.append(association_id)
            role, unsure = self.binding(entry.get("RoleArn"), logical_id, "RoleArn")
            self.part(
                logical_id,
                PodIdentityAssociation(
                    arn=association_id,
                    namespace="kube-system",
                    service_account=sa,
                    role_arn=role,
                    owner_arn=owner,
                    origin=t.origin(logical_id, node),
                ),
                unsure=unsure,
            )
        config = t.prop(logical_id, "ConfigurationValues")
        version = t.prop(logical_id, "AddonVersion")
        role, unsure = self.binding(
            t.prop(logical_id, "ServiceAccountRoleArn"), logical_id, "ServiceAccountRoleArn"
        )
        self.part(
            logical_id,
            Addon(
                name=name,
                version=str(version) if version else None,
                service_account_role_arn=role,
                pod_identity_association_arns=tuple(ids),
                configuration_values=config if isinstance(config, str) else None,
                origin=t.origin(logical_id),
            ),
            unsure=unsure,
        )

    def association(self, logical_id: str) -> None:
        t = self.t
        target = t.prop(logical_id, "TargetRoleArn")
        role, unsure = self.binding(t.prop(logical_id, "RoleArn"), logical_id, "RoleArn")
        self.part(
            logical_id,
            PodIdentityAssociation(
                arn=f"cfn:{t.file}#{logical_id}",
                namespace=str(t.prop(logical_id, "Namespace")),
                service_account=str(t.prop(logical_id, "ServiceAccount")),
                role_arn=role,
                target_role_arn=target if isinstance(target, str) else None,
                origin=t.origin(logical_id),
            ),
            unsure=unsure,
        )

    def access_entry(self, logical_id: str) -> None:
        t = self.t
        principal = t.prop(logical_id, "PrincipalArn")
        if not isinstance(principal, str):
            self.gap("iac:access-entry", "PrincipalArn is missing", logical_id)
            return
        self.part(
            logical_id,
            AccessEntry(
                principal_arn=principal,
                type=str(t.prop(logical_id, "Type") or "STANDARD"),
                origin=t.origin(logical_id),
            ),
        )

    def fargate(self, logical_id: str) -> None:
        t = self.t
        self.part(
            logical_id,
            FargateProfile(
                name=text_value(t.prop(logical_id, "FargateProfileName")) or t.name(logical_id),
                pod_execution_role_arn=self.role_reference(
                    t.prop(logical_id, "PodExecutionRoleArn"), logical_id, "PodExecutionRoleArn"
                ),
                origin=t.origin(logical_id),
            ),
        )

    def nested_stack(self, logical_id: str) -> None:
        """A nested stack that was not read with its parent (its template was not scanned)."""
        url = self.t.prop(logical_id, "TemplateURL")
        if self.t.nested_file(logical_id, self.out.scanned, self.out.assets) is not None:
            return
        if is_cdk_provider_stack(logical_id, self.t.resources[logical_id]):
            return  # aws-cdk-lib's Lambda handlers for its EKS constructs: no nodes, no bindings
        params = self.t.prop(logical_id, "Parameters")
        names = [
            v
            for v in (params.values() if isinstance(params, Mapping) else ())
            if isinstance(v, str) and not unresolved(v)
        ]
        self.out.nested.append(
            NestedStack(self.t.file, logical_id, self.t.origin(logical_id), str(url), names)
        )
