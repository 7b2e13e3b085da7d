"""CloudFormation and CDK synth output (YAML or JSON) into clusters, node identities and roles.

Templates are decoded with cfn-lint's decoder (short-form tags, line marks for YAML and JSON) and
their intrinsics evaluated (:mod:`cfn_intrinsics`). Files are read first and joined afterwards, so a
node group stack that names its cluster finds it in another template of the same scan; a cluster
no scanned template defines is kept with what is known and a gap for the rest (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.cfn_intrinsics import Evaluator, unresolved
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import (
    AccessEntry,
    Addon,
    Cluster,
    FargateProfile,
    Gap,
    MetadataOptions,
    NodeGroup,
    OidcProvider,
    PodIdentityAssociation,
    PolicyAttachment,
    Role,
)

CLUSTER_TYPES = ("AWS::EKS::Cluster", "Custom::AWSCDK-EKS-Cluster")
PROVIDER_TYPES = ("AWS::IAM::OIDCProvider", "Custom::AWSCDKOpenIdConnectProvider")
_NODE_ENTRY_TYPES = {"EC2_LINUX": "linux", "EC2_WINDOWS": "windows"}


def _line(node: Any, default: int) -> int:
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else default


def _plain(value: Any) -> Any:
    """Decoder nodes to plain JSON values (the model must serialise)."""
    return json.loads(json.dumps(value, default=str))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _document(value: Any) -> tuple[JsonDict | str | None, str | None]:
    """A policy document, or None with the reason when its actions or effects are unresolved."""
    if isinstance(value, str):
        return (
            (None, f"policy document is not resolvable: {value[:120]}")
            if unresolved(value)
            else (value, None)
        )
    if not isinstance(value, Mapping):
        return None, "policy document is missing"
    doc = _plain(value)
    statements = doc.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping):
            continue
        for key in ("Action", "NotAction", "Effect"):
            raw = statement.get(key)
            for item in raw if isinstance(raw, list) else [raw]:
                if unresolved(item):
                    return None, f"policy {key} is not resolvable: {item}"
    return doc, None


def _tags(value: Any) -> dict[str, str] | None:
    if isinstance(value, list):
        return {
            str(t["Key"]): str(t.get("Value", ""))
            for t in value
            if isinstance(t, Mapping) and "Key" in t
        }
    if isinstance(value, Mapping):  # Custom::AWSCDK-EKS-Cluster and some resources use a map
        return {str(k): str(v) for k, v in value.items()}
    return None


@dataclass
class _RoleDraft:
    arn: str
    name: str
    origin: Origin
    trust: JsonDict | str | None = None
    managed: list[tuple[str, Origin]] = field(default_factory=list)
    inline: list[PolicyAttachment] = field(default_factory=list)
    boundary: str | None = None
    tags: dict[str, str] | None = None


@dataclass
class _ClusterDraft:
    cluster: Cluster
    file: str
    defined: bool = True
    node_groups: list[NodeGroup] = field(default_factory=list)
    fargate: list[FargateProfile] = field(default_factory=list)
    addons: list[Addon] = field(default_factory=list)
    associations: list[PodIdentityAssociation] = field(default_factory=list)
    access_entries: list[AccessEntry] = field(default_factory=list)


@dataclass
class _Part:
    """Something that belongs to a cluster named by ``cluster_name`` (resolved after all files)."""

    cluster_name: str
    file: str
    item: NodeGroup | FargateProfile | Addon | PodIdentityAssociation | AccessEntry
    profile: str | None = None  # self-managed: the instance profile whose role the nodes run with


@dataclass
class _Assembly:
    roles: dict[str, _RoleDraft] = field(default_factory=dict)
    managed_documents: dict[str, JsonDict | str | None] = field(default_factory=dict)
    role_policies: list[tuple[str, PolicyAttachment]] = field(default_factory=list)  # role name
    profiles: dict[str, list[str]] = field(default_factory=dict)  # profile name/arn -> role names
    clusters: dict[str, _ClusterDraft] = field(default_factory=dict)  # by cluster name
    parts: list[_Part] = field(default_factory=list)
    karpenter_roles: list[tuple[str, str]] = field(default_factory=list)  # (role arn, file)
    providers: list[OidcProvider] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


class _Template:
    """One decoded template: names, references and attributes of its resources."""

    def __init__(self, file: str, data: Mapping[str, Any]) -> None:
        self.file = file
        self.stem = Path(file).name.split(".")[0]
        resources = data.get("Resources")
        items = [
            (k, v)
            for k, v in (resources.items() if isinstance(resources, Mapping) else ())
            if isinstance(v, Mapping)
        ]
        self.resources: dict[str, Mapping[str, Any]] = {str(k): v for k, v in items}
        self.lines = {str(k): _line(k, 1) for k, _ in items}
        params = data.get("Parameters")
        mappings = data.get("Mappings")
        conditions = data.get("Conditions")
        self.ev = Evaluator(
            params if isinstance(params, Mapping) else {},
            mappings if isinstance(mappings, Mapping) else {},
            self._ref,
            self._get_att,
            conditions if isinstance(conditions, Mapping) else {},
        )
        self._resolving: set[str] = set()

    def type_of(self, logical_id: str) -> str:
        return str(self.resources.get(logical_id, {}).get("Type", ""))

    def props(self, logical_id: str) -> Mapping[str, Any]:
        props = self.resources[logical_id].get("Properties")
        return props if isinstance(props, Mapping) else {}

    def origin(self, logical_id: str, node: Any = None) -> Origin:
        line = self.lines.get(logical_id, 1)
        return Origin(source="iac", file=self.file, line=_line(node, line))

    def cluster_id(self, logical_id: str) -> str:
        return f"cfn:{self.file}#{logical_id}"

    def prop(self, logical_id: str, *path: str) -> Any:
        node: Any = self.props(logical_id)
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return self.ev.value(node)

    def name(self, logical_id: str) -> str:
        """The physical name: the template's own, else CloudFormation-style ``<stack>-<id>``."""
        kind = self.type_of(logical_id)
        key = {
            "AWS::IAM::Role": ("RoleName",),
            "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
            "AWS::IAM::InstanceProfile": ("InstanceProfileName",),
            "AWS::EKS::Cluster": ("Name",),
            "Custom::AWSCDK-EKS-Cluster": ("Config", "name"),
            "AWS::EC2::LaunchTemplate": ("LaunchTemplateName",),
        }.get(kind)
        if key and logical_id not in self._resolving:
            self._resolving.add(logical_id)
            try:
                value = _str(self.prop(logical_id, *key))
            finally:
                self._resolving.discard(logical_id)
            if value:
                return value
        return f"{self.stem}-{logical_id}"

    def issuer(self, logical_id: str) -> str:
        return synthetic.issuer_url(self.cluster_id(logical_id))

    def _ref(self, logical_id: str) -> str | None:
        kind = self.type_of(logical_id)
        if kind in ("AWS::IAM::Role", "AWS::IAM::InstanceProfile", *CLUSTER_TYPES):
            return self.name(logical_id)
        if kind == "AWS::IAM::ManagedPolicy":
            return synthetic.policy_arn(self.name(logical_id))
        if kind in PROVIDER_TYPES:
            return self._provider_arn(logical_id)
        return None

    def _get_att(self, logical_id: str, attribute: str) -> str | None:
        kind = self.type_of(logical_id)
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return synthetic.role_arn(self.name(logical_id))
        if kind == "AWS::IAM::InstanceProfile" and attribute == "Arn":
            return (
                f"arn:{synthetic.PARTITION}:iam::{synthetic.ACCOUNT}:instance-profile/"
                f"{self.name(logical_id)}"
            )
        if kind in CLUSTER_TYPES and attribute == "OpenIdConnectIssuerUrl":
            return self.issuer(logical_id)
        if kind in CLUSTER_TYPES and attribute == "Arn":
            return (
                f"arn:{synthetic.PARTITION}:eks:{synthetic.REGION}:{synthetic.ACCOUNT}:"
                f"cluster/{self.name(logical_id)}"
            )
        if kind == "AWS::IAM::ManagedPolicy" and attribute == "PolicyArn":
            return synthetic.policy_arn(self.name(logical_id))
        if kind in PROVIDER_TYPES and attribute == "Arn":
            return self._provider_arn(logical_id)
        if kind == "AWS::EC2::LaunchTemplate" and attribute.endswith("VersionNumber"):
            return "1"
        return None

    def _provider_arn(self, logical_id: str) -> str:
        url = self.prop(logical_id, "Url")
        return synthetic.provider_arn(url if isinstance(url, str) else f"${{{logical_id}.Url}}")

    def launch_template(self, reference: Any) -> str | None:
        """The logical id of the template's launch template a LaunchTemplateId/Name points at."""
        if not isinstance(reference, str):
            return None
        for logical_id in self.resources:
            if self.type_of(logical_id) != "AWS::EC2::LaunchTemplate":
                continue
            if reference.strip("${}").split(".")[0] == logical_id or reference == self.name(
                logical_id
            ):
                return logical_id
        return None


def _metadata_options(options: Any, origin: Origin) -> MetadataOptions:
    options = options if isinstance(options, Mapping) else {}
    tokens = options.get("HttpTokens")
    hop = options.get("HttpPutResponseHopLimit")
    endpoint = options.get("HttpEndpoint")
    return MetadataOptions(
        http_tokens=tokens if tokens in ("required", "optional") else None,
        hop_limit=int(hop) if isinstance(hop, int | str) and str(hop).isdigit() else None,
        http_endpoint=endpoint if endpoint in ("enabled", "disabled") else None,
        origin=origin,
    )


class _Reader:
    """Reads one template's resources into the assembly."""

    def __init__(self, template: _Template, out: _Assembly) -> None:
        self.t = template
        self.out = out

    def gap(self, what: str, reason: str, logical_id: str, node: Any = None) -> None:
        origin = self.t.origin(logical_id, node)
        self.out.gaps.append(
            Gap(what=what, reason=f"{logical_id}: {reason}", resource=self.t.file, line=origin.line)
        )

    def role_reference(self, value: Any, logical_id: str, what: str) -> str | None:
        if not isinstance(value, str):
            return None
        if unresolved(value):
            self.gap(
                "iac:reference", f"{what} {value} is not resolvable from the template", logical_id
            )
        return value

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
        }
        for logical_id in self.t.resources:
            kind = self.t.type_of(logical_id)
            if kind in CLUSTER_TYPES:
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
            tags=_tags(t.prop(logical_id, "Tags")) or {},
            origin=t.origin(logical_id),
        )
        self.out.clusters.setdefault(name, _ClusterDraft(cluster, t.file))

    def provider(self, logical_id: str, kind: str) -> None:
        url = self.t.prop(logical_id, "Url")
        ids_key = "ClientIdList" if kind == "AWS::IAM::OIDCProvider" else "ClientIDList"
        client_ids = self.t.prop(logical_id, ids_key)
        if not isinstance(url, str):
            self.gap("iac:oidc-provider", "Url is missing", logical_id)
            return
        self.out.providers.append(
            OidcProvider(
                arn=synthetic.provider_arn(url),
                url=synthetic.issuer_host(url),
                client_ids=tuple(str(c) for c in client_ids)
                if isinstance(client_ids, list)
                else (),
                account=synthetic.ACCOUNT,
                origin=self.t.origin(logical_id),
            )
        )

    def role(self, logical_id: str) -> None:
        t = self.t
        name = t.name(logical_id)
        draft = _RoleDraft(arn=synthetic.role_arn(name), name=name, origin=t.origin(logical_id))
        trust, problem = _document(t.prop(logical_id, "AssumeRolePolicyDocument"))
        draft.trust = trust
        if problem:
            self.gap("iac:trust-policy", problem, logical_id)
        raw_arns = t.props(logical_id).get("ManagedPolicyArns")
        arns = t.prop(logical_id, "ManagedPolicyArns")
        marks = raw_arns if isinstance(raw_arns, list) else []
        for index, arn in enumerate(arns if isinstance(arns, list) else []):
            node = marks[index] if index < len(marks) else raw_arns
            origin = t.origin(logical_id, node)
            if not isinstance(arn, str):
                continue
            if unresolved(arn):
                self.gap(
                    "iac:policy", f"managed policy ARN {arn} is not resolvable", logical_id, node
                )
            draft.managed.append((arn, origin))
        raw_inline = t.props(logical_id).get("Policies")
        for index, policy in enumerate(t.prop(logical_id, "Policies") or []):
            if not isinstance(policy, Mapping):
                continue
            node = (
                raw_inline[index]
                if isinstance(raw_inline, list) and index < len(raw_inline)
                else None
            )
            document, problem = _document(policy.get("PolicyDocument"))
            if problem:
                self.gap("iac:policy", problem, logical_id, node)
            draft.inline.append(
                PolicyAttachment(
                    name=str(policy.get("PolicyName", f"policy-{index}")),
                    kind="inline",
                    document=document,
                    origin=t.origin(logical_id, node),
                )
            )
        boundary = t.prop(logical_id, "PermissionsBoundary")
        draft.boundary = boundary if isinstance(boundary, str) else None
        draft.tags = _tags(t.prop(logical_id, "Tags")) or {}
        self.out.roles[draft.arn] = draft
        if "KarpenterNodeRole" in name:
            self.out.karpenter_roles.append((draft.arn, t.file))

    def _attach_to_roles(self, logical_id: str, attachment: PolicyAttachment) -> None:
        roles = self.t.prop(logical_id, "Roles")
        for role in roles if isinstance(roles, list) else []:
            if isinstance(role, str):
                self.out.role_policies.append((role, attachment))

    def policy(self, logical_id: str) -> None:
        document, problem = _document(self.t.prop(logical_id, "PolicyDocument"))
        if problem:
            self.gap("iac:policy", problem, logical_id)
        name = _str(self.t.prop(logical_id, "PolicyName")) or logical_id
        self._attach_to_roles(
            logical_id,
            PolicyAttachment(
                name=name, kind="inline", document=document, origin=self.t.origin(logical_id)
            ),
        )

    def role_policy(self, logical_id: str) -> None:
        document, problem = _document(self.t.prop(logical_id, "PolicyDocument"))
        if problem:
            self.gap("iac:policy", problem, logical_id)
        role = self.t.prop(logical_id, "RoleName")
        if isinstance(role, str):
            self.out.role_policies.append(
                (
                    role,
                    PolicyAttachment(
                        name=_str(self.t.prop(logical_id, "PolicyName")) or logical_id,
                        kind="inline",
                        document=document,
                        origin=self.t.origin(logical_id),
                    ),
                )
            )

    def managed_policy(self, logical_id: str) -> None:
        document, problem = _document(self.t.prop(logical_id, "PolicyDocument"))
        if problem:
            self.gap("iac:policy", problem, logical_id)
        arn = synthetic.policy_arn(self.t.name(logical_id))
        self.out.managed_documents[arn] = document
        self._attach_to_roles(
            logical_id, synthetic.managed_attachment(arn, self.t.origin(logical_id), document)
        )

    def instance_profile(self, logical_id: str) -> None:
        roles = self.t.prop(logical_id, "Roles")
        names = [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
        name = self.t.name(logical_id)
        self.out.profiles[name] = names
        self.out.profiles[str(self.t.ev.get_att(logical_id, "Arn"))] = names

    def _cluster_name(self, logical_id: str) -> str:
        value = self.t.prop(logical_id, "ClusterName")
        return value if isinstance(value, str) else f"${{{logical_id}.ClusterName}}"

    def nodegroup(self, logical_id: str) -> None:
        t = self.t
        ami = _str(t.prop(logical_id, "AmiType"))
        lt = t.prop(logical_id, "LaunchTemplate")
        metadata = None
        if isinstance(lt, Mapping):
            lt_id = t.launch_template(lt.get("Id") or lt.get("Name"))
            if lt_id is not None:
                metadata = _metadata_options(
                    t.prop(lt_id, "LaunchTemplateData", "MetadataOptions"), t.origin(lt_id)
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
        self.out.parts.append(
            _Part(
                self._cluster_name(logical_id),
                t.file,
                NodeGroup(
                    name=_str(t.prop(logical_id, "NodegroupName")) or t.name(logical_id),
                    kind="managed",
                    role_arn=role,
                    os="windows" if ami and ami.upper().startswith("WINDOWS") else "linux",
                    ami_type=ami,
                    metadata_options=metadata,
                    instance_count=int(desired) if isinstance(desired, int) else None,
                    origin=t.origin(logical_id),
                ),
            )
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
                metadata = _metadata_options(data.get("MetadataOptions"), t.origin(lt_id))
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
                metadata = _metadata_options(t.prop(lc_id, "MetadataOptions"), t.origin(lc_id))
                profile = t.prop(lc_id, "IamInstanceProfile")
        cluster = self._asg_cluster(logical_id)
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
            _Part(
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
            )
        )

    def _asg_cluster(self, logical_id: str) -> str | None:
        tags = self.t.prop(logical_id, "Tags")
        for tag in tags if isinstance(tags, list) else []:
            if not isinstance(tag, Mapping):
                continue
            key, value = str(tag.get("Key", "")), tag.get("Value")
            if key.startswith("kubernetes.io/cluster/"):
                return key.removeprefix("kubernetes.io/cluster/")
            if key in ("eks:cluster-name", "alpha.eksctl.io/cluster-name") and isinstance(
                value, str
            ):
                return value
        names = [self.t.name(c) for c in self.t.resources if self.t.type_of(c) in CLUSTER_TYPES]
        return names[0] if len(names) == 1 else None

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
            self.out.parts.append(
                _Part(
                    self._cluster_name(logical_id),
                    t.file,
                    PodIdentityAssociation(
                        arn=association_id,
                        namespace="kube-system",
                        service_account=sa,
                        role_arn=self.role_reference(entry.get("RoleArn"), logical_id, "RoleArn"),
                        owner_arn=owner,
                        origin=t.origin(logical_id, node),
                    ),
                )
            )
        config = t.prop(logical_id, "ConfigurationValues")
        version = t.prop(logical_id, "AddonVersion")
        self.out.parts.append(
            _Part(
                self._cluster_name(logical_id),
                t.file,
                Addon(
                    name=name,
                    version=str(version) if version else None,
                    service_account_role_arn=self.role_reference(
                        t.prop(logical_id, "ServiceAccountRoleArn"),
                        logical_id,
                        "ServiceAccountRoleArn",
                    ),
                    pod_identity_association_arns=tuple(ids),
                    configuration_values=config if isinstance(config, str) else None,
                    origin=t.origin(logical_id),
                ),
            )
        )

    def association(self, logical_id: str) -> None:
        t = self.t
        target = t.prop(logical_id, "TargetRoleArn")
        self.out.parts.append(
            _Part(
                self._cluster_name(logical_id),
                t.file,
                PodIdentityAssociation(
                    arn=f"cfn:{t.file}#{logical_id}",
                    namespace=str(t.prop(logical_id, "Namespace")),
                    service_account=str(t.prop(logical_id, "ServiceAccount")),
                    role_arn=self.role_reference(
                        t.prop(logical_id, "RoleArn"), logical_id, "RoleArn"
                    ),
                    target_role_arn=target if isinstance(target, str) else None,
                    origin=t.origin(logical_id),
                ),
            )
        )

    def access_entry(self, logical_id: str) -> None:
        t = self.t
        principal = t.prop(logical_id, "PrincipalArn")
        if not isinstance(principal, str):
            self.gap("iac:access-entry", "PrincipalArn is missing", logical_id)
            return
        self.out.parts.append(
            _Part(
                self._cluster_name(logical_id),
                t.file,
                AccessEntry(
                    principal_arn=principal,
                    type=str(t.prop(logical_id, "Type") or "STANDARD"),
                    origin=t.origin(logical_id),
                ),
            )
        )

    def fargate(self, logical_id: str) -> None:
        t = self.t
        self.out.parts.append(
            _Part(
                self._cluster_name(logical_id),
                t.file,
                FargateProfile(
                    name=_str(t.prop(logical_id, "FargateProfileName")) or t.name(logical_id),
                    pod_execution_role_arn=self.role_reference(
                        t.prop(logical_id, "PodExecutionRoleArn"), logical_id, "PodExecutionRoleArn"
                    ),
                    origin=t.origin(logical_id),
                ),
            )
        )


def _decode(path: Path, out: IacFragment) -> Mapping[str, Any] | None:
    import cfnlint.decode

    try:
        data, matches = cfnlint.decode.decode(str(path))
    except RecursionError:
        data, matches = None, []
    if data is None or not isinstance(data, Mapping):
        first = matches[0] if matches else None
        line = int(first.linenumber) if first is not None and first.linenumber else None
        message = str(first.message) if first is not None else "not a CloudFormation template"
        out.gaps.append(
            Gap(what="iac:parse", reason=f"syntax error: {message}", resource=str(path), line=line)
        )
        return None
    return data


class _Finisher:
    """Joins what every template contributed into clusters and roles."""

    def __init__(self, assembly: _Assembly) -> None:
        self.a = assembly
        self.by_name = {draft.name: arn for arn, draft in assembly.roles.items()}

    def cluster_for(self, name: str, file: str, origin: Origin | None) -> _ClusterDraft:
        draft = self.a.clusters.get(name)
        if draft is None:
            cluster_id = f"cfn:{file}#{name}"
            draft = _ClusterDraft(
                Cluster(
                    arn=cluster_id,
                    name=name,
                    account=synthetic.ACCOUNT,
                    region=synthetic.REGION,
                    origin=origin,
                ),
                file,
                defined=False,
            )
            self.a.clusters[name] = draft
            self.a.gaps.append(
                Gap(
                    what="iac:cluster",
                    cluster=cluster_id,
                    resource=file,
                    line=origin.line if origin else None,
                    reason=f"cluster {name} is not defined in the scanned files: its add-ons, pod "
                    "identity associations, access entries and OIDC issuer are unknown",
                )
            )
        return draft

    def profile_role(self, part: _Part) -> str | None:
        roles = self.a.profiles.get(part.profile or "")
        if roles is None:
            self.a.gaps.append(
                Gap(
                    what="iac:instance-profile",
                    resource=part.file,
                    line=part.item.origin.line if part.item.origin else None,
                    reason=f"instance profile {part.profile} of node group "
                    f"{getattr(part.item, 'name', '')} is not defined in the scanned files",
                )
            )
            return None
        return self.by_name.get(roles[0], synthetic.role_arn(roles[0])) if roles else None

    def place(self, part: _Part) -> None:
        draft = self.cluster_for(part.cluster_name, part.file, part.item.origin)
        item = part.item
        if isinstance(item, NodeGroup):
            if part.profile is not None:
                item = replace(item, role_arn=self.profile_role(part))
            draft.node_groups.append(item)
        elif isinstance(item, FargateProfile):
            draft.fargate.append(item)
        elif isinstance(item, Addon):
            draft.addons.append(item)
        elif isinstance(item, PodIdentityAssociation):
            draft.associations.append(item)
        else:
            draft.access_entries.append(item)

    def node_entries(self, draft: _ClusterDraft) -> None:
        """EC2 access entries for roles no node group uses: self-managed or Karpenter nodes."""
        used = {g.role_arn for g in draft.node_groups}
        for entry in draft.access_entries:
            os_name = _NODE_ENTRY_TYPES.get(entry.type.upper())
            if os_name is None or entry.principal_arn in used:
                continue
            used.add(entry.principal_arn)
            karpenter = "KarpenterNodeRole" in entry.principal_arn
            draft.node_groups.append(
                NodeGroup(
                    name=synthetic.role_name_of(entry.principal_arn),
                    kind="karpenter" if karpenter else "self_managed",
                    role_arn=entry.principal_arn,
                    os="windows" if os_name == "windows" else "linux",
                    origin=entry.origin,
                )
            )

    def karpenter(self) -> None:
        used = {g.role_arn for d in self.a.clusters.values() for g in d.node_groups}
        for arn, file in self.a.karpenter_roles:
            if arn in used:
                continue
            name = synthetic.role_name_of(arn)
            suffix = name.split("KarpenterNodeRole-", 1)[1] if "KarpenterNodeRole-" in name else ""
            local = [n for n, d in self.a.clusters.items() if d.file == file and d.defined]
            cluster = suffix or (local[0] if len(local) == 1 else "")
            if not cluster:
                self.a.gaps.append(
                    Gap(
                        what="iac:node-group",
                        resource=file,
                        reason=(f"Karpenter node role {name}: cannot tell which cluster it serves"),
                    )
                )
                continue
            origin = self.a.roles[arn].origin
            self.cluster_for(cluster, file, origin).node_groups.append(
                NodeGroup(name=name, kind="karpenter", role_arn=arn, origin=origin)
            )

    def role(self, draft: _RoleDraft, extra: list[PolicyAttachment]) -> Role:
        docs = self.a.managed_documents
        managed = [
            synthetic.managed_attachment(arn, origin, docs.get(arn))
            for arn, origin in draft.managed
        ]
        return Role(
            arn=draft.arn,
            name=draft.name,
            account=synthetic.ACCOUNT,
            trust_policy=draft.trust,
            policies=tuple(managed + draft.inline + extra),
            permissions_boundary_arn=draft.boundary,
            permissions_boundary=docs.get(draft.boundary) if draft.boundary else None,
            tags=draft.tags,
            origin=draft.origin,
        )

    def finish(self, out: IacFragment) -> None:
        for part in self.a.parts:
            self.place(part)
        for draft in self.a.clusters.values():
            self.node_entries(draft)
        self.karpenter()
        extra: dict[str, list[PolicyAttachment]] = {}
        for role_name, attachment in self.a.role_policies:
            arn = self.by_name.get(role_name)
            if arn is not None:
                extra.setdefault(arn, []).append(attachment)
        out.roles.extend(self.role(d, extra.get(arn, [])) for arn, d in self.a.roles.items())
        for draft in self.a.clusters.values():
            known = draft.defined
            out.clusters.append(
                replace(
                    draft.cluster,
                    node_groups=tuple(draft.node_groups),
                    fargate_profiles=tuple(draft.fargate) if known else None,
                    addons=tuple(draft.addons) if known else None,
                    pod_identity_associations=tuple(draft.associations) if known else None,
                    access_entries=tuple(draft.access_entries) if known else None,
                )
            )
        out.oidc_providers.extend(self.a.providers)
        out.gaps.extend(self.a.gaps)


def collect_cloudformation(paths: Sequence[Path]) -> IacFragment:
    """Every cluster, node identity, role and OIDC provider the templates at ``paths`` define."""
    out = IacFragment()
    assembly = _Assembly()
    for path in paths:
        data = _decode(path, out)
        if data is None:
            continue
        out.files_read.append(str(path))
        _Reader(_Template(str(path), data), assembly).read()
    _Finisher(assembly).finish(out)
    return out
