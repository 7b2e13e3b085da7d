"""CloudFormation and CDK synth output (YAML or JSON) into clusters, node identities and roles.

Templates are decoded with cfn-lint's decoder (short-form tags, line marks for YAML and JSON) and
their intrinsics evaluated (:mod:`cfn_intrinsics`). Files are read first and joined afterwards, so a
node group stack that names its cluster finds it in another template of the same scan; a cluster
no scanned template defines is kept with what is known and a gap for the rest (fail closed).

Clusters are keyed by their template and logical id, never by name: a part (node group, add-on,
association, access entry) joins the cluster it ``Ref``s, else the only scanned cluster of that name
(the one in its own template first); a name several templates define is a gap and the part makes
those clusters unknown. ``Fn::ImportValue`` resolves from the scanned templates' exports and a
nested stack whose template was scanned is read with the parameters its parent passes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.cfn_intrinsics import Evaluator, Undecided, alternatives, unresolved
from cniguard.collect.iac.marked_yaml import unacceptable_character
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
    if isinstance(value, Undecided):
        return str(value)
    return value if isinstance(value, str) and value else None


def _expand_actions(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A statement whose Action/NotAction/Resource is undecided keeps every branch (a grant in
    either branch is one the template can deploy)."""
    out = dict(statement)
    for key in ("Action", "NotAction", "Resource"):
        raw = out.get(key)
        items = raw if isinstance(raw, list) else [raw]
        if any(isinstance(item, Undecided) for item in items):
            out[key] = [v for item in items for v in alternatives(item)]
    return out


def _undecided_in(value: Any) -> Undecided | None:
    if isinstance(value, Undecided):
        return value
    if isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = _undecided_in(item)
        if found is not None:
            return found
    return None


def _document(value: Any) -> tuple[JsonDict | str | None, str | None]:
    """A policy document, or None with the reason when its actions or effects are unresolved."""
    if isinstance(value, str):
        return (
            (None, f"policy document is not resolvable: {value[:120]}")
            if unresolved(value)
            else (value, None)
        )
    if isinstance(value, Undecided):
        return None, f"policy document depends on {value}"
    if not isinstance(value, Mapping):
        return None, "policy document is missing"
    statements = value.get("Statement")
    if isinstance(statements, Mapping):
        value = {**value, "Statement": _expand_actions(statements)}
    elif isinstance(statements, list):
        expanded = [_expand_actions(s) if isinstance(s, Mapping) else s for s in statements]
        value = {**value, "Statement": expanded}
    undecided = _undecided_in(value)
    if undecided is not None:
        return None, f"policy document depends on {undecided}"
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


def _raw(node: Any, *path: str) -> Any:
    """The undecoded node at ``path`` (for its line)."""
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


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
    unknown: set[str] = field(default_factory=set)  # fields a part may change but cannot be tied

    def read(self, name: str) -> Any:
        """A list field as the cluster gets it: None (unknown) when it cannot be told."""
        items: list[Any] = getattr(self, name)
        return tuple(items) if self.defined and name not in self.unknown else None


@dataclass
class _Part:
    """Something that belongs to a cluster named by ``cluster_name`` (resolved after all files)."""

    cluster_name: str
    file: str
    item: NodeGroup | FargateProfile | Addon | PodIdentityAssociation | AccessEntry
    profile: str | None = None  # self-managed: the instance profile whose role the nodes run with
    cluster_id: str | None = None  # the cluster the part ``Ref``s in its own template
    unsure: str | None = None  # why the binding it provides may not deploy as read


@dataclass
class _Nested:
    """A nested stack that was not followed: its resources (node groups included) are unknown."""

    file: str
    logical_id: str
    origin: Origin
    url: str
    names: list[str]  # cluster names passed to it as parameters


@dataclass
class _Assembly:
    roles: dict[str, list[_RoleDraft]] = field(default_factory=dict)  # by ARN
    managed_documents: dict[str, JsonDict | str | None] = field(default_factory=dict)
    role_policies: list[tuple[str, PolicyAttachment]] = field(default_factory=list)  # role name
    profiles: dict[str, list[str]] = field(default_factory=dict)  # profile name/arn -> role names
    clusters: dict[str, _ClusterDraft] = field(default_factory=dict)  # by cluster id
    parts: list[_Part] = field(default_factory=list)
    nested: list[_Nested] = field(default_factory=list)
    scanned: dict[str, str] = field(default_factory=dict)  # normalised path -> file as scanned
    karpenter_roles: list[tuple[str, str]] = field(default_factory=list)  # (role arn, file)
    providers: list[OidcProvider] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


class _Template:
    """One decoded template: names, references and attributes of its resources."""

    def __init__(
        self,
        file: str,
        data: Mapping[str, Any],
        stem: str,
        import_value: Callable[[str], Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.file = file
        self.data = data
        self.stem = stem
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
            import_value,
            overrides,
        )
        self._resolving: set[str] = set()

    def exports(self) -> list[tuple[Any, Any]]:
        """(export name node, value node) of every exported output."""
        outputs = self.data.get("Outputs")
        found = []
        for output in outputs.values() if isinstance(outputs, Mapping) else ():
            export = output.get("Export") if isinstance(output, Mapping) else None
            if isinstance(export, Mapping) and "Name" in export and "Value" in output:
                found.append((export["Name"], output["Value"]))
        return found

    def exists(self, logical_id: str) -> bool:
        """False when the resource's ``Condition`` is known to be false."""
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.ev.condition(condition) is not False

    def maybe_absent(self, logical_id: str) -> str | None:
        condition = self.resources[logical_id].get("Condition")
        if condition is None or self.ev.condition(condition) is not None:
            return None
        return (
            f"{logical_id} exists only if condition {condition} holds, "
            "which depends on values known at deploy"
        )

    def nested_file(self, logical_id: str, scanned: Mapping[str, str]) -> str | None:
        """The scanned file a nested stack's local TemplateURL names, if any."""
        url = self.prop(logical_id, "TemplateURL")
        if not isinstance(url, str) or unresolved(url) or "://" in url:
            return None
        return scanned.get(os.path.normpath(Path(self.file).parent / url))

    def cluster_ref(self, logical_id: str) -> str | None:
        """The id of the cluster of this template that ``ClusterName: !Ref <id>`` names."""
        raw = self.props(logical_id).get("ClusterName")
        target = raw.get("Ref") if isinstance(raw, Mapping) and len(raw) == 1 else None
        if isinstance(target, str) and self.type_of(target) in CLUSTER_TYPES:
            return self.cluster_id(target)
        return None

    def role_ids(self) -> list[str]:
        return [n for n in self.resources if self.type_of(n) == "AWS::IAM::Role"]

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


def _metadata_options(options: Any, origin: Origin) -> tuple[MetadataOptions, list[str]]:
    """The instance metadata options, and the keys set to something not known before deploy
    (those fields stay None: unknown)."""
    unreadable = [] if options is None or isinstance(options, Mapping) else ["MetadataOptions"]
    options = options if isinstance(options, Mapping) else {}
    tokens = options.get("HttpTokens")
    hop = options.get("HttpPutResponseHopLimit")
    endpoint = options.get("HttpEndpoint")
    hop_ok = isinstance(hop, int | str) and str(hop).isdigit()
    for key, value, ok in (
        ("HttpTokens", tokens, tokens in ("required", "optional")),
        ("HttpPutResponseHopLimit", hop, hop_ok),
        ("HttpEndpoint", endpoint, endpoint in ("enabled", "disabled")),
    ):
        if value is not None and not ok:
            unreadable.append(f"{key} {value}")
    return (
        MetadataOptions(
            http_tokens=tokens if tokens in ("required", "optional") else None,
            hop_limit=int(hop) if hop_ok else None,
            http_endpoint=endpoint if endpoint in ("enabled", "disabled") else None,
            origin=origin,
        ),
        unreadable,
    )


class _Reader:
    """Reads one template's resources into the assembly."""

    def __init__(self, template: _Template, out: _Assembly) -> None:
        self.t = template
        self.out = out
        self.maybe_absent: str | None = None  # why the resource being read may not be deployed

    def gap(self, what: str, reason: str, logical_id: str, node: Any = None) -> None:
        origin = self.t.origin(logical_id, node)
        self.out.gaps.append(
            Gap(what=what, reason=f"{logical_id}: {reason}", resource=self.t.file, line=origin.line)
        )

    def role_reference(self, value: Any, logical_id: str, what: str) -> str | None:
        if isinstance(value, Undecided):
            self.gap("iac:reference", f"{what} depends on {value}; it is unknown", logical_id)
            return None
        if not isinstance(value, str):
            return None
        if unresolved(value):
            self.gap(
                "iac:reference", f"{what} {value} is not resolvable from the template", logical_id
            )
        return value

    def binding(self, value: Any, logical_id: str, what: str) -> tuple[str | None, str | None]:
        """A role an add-on or association binds, and why the binding may differ at deploy."""
        if isinstance(value, Undecided):
            return None, f"{logical_id}: {what} depends on {value}"
        return self.role_reference(value, logical_id, what), self.maybe_absent

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
        self.out.clusters.setdefault(cluster.arn, _ClusterDraft(cluster, t.file))

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

    def unreadable_policies(
        self, logical_id: str, what: str, value: Any, node: Any
    ) -> PolicyAttachment:
        """A policy list that cannot be read: a gap, and a policy whose document is unknown."""
        self.gap(
            "iac:policy", f"{what} {value} is not resolvable from the template", logical_id, node
        )
        return PolicyAttachment(
            name=f"{what} {value}",
            kind="managed" if what == "ManagedPolicyArns" else "inline",
            origin=self.t.origin(logical_id, node),
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
        if arns is not None and not isinstance(arns, list):
            draft.inline.append(
                self.unreadable_policies(logical_id, "ManagedPolicyArns", arns, raw_arns)
            )
        marks = raw_arns if isinstance(raw_arns, list) else []
        for index, item in enumerate(arns if isinstance(arns, list) else []):
            node = marks[index] if index < len(marks) else raw_arns
            origin = t.origin(logical_id, node)
            for arn in alternatives(item):
                if not isinstance(arn, str) or unresolved(arn):
                    draft.inline.append(
                        self.unreadable_policies(logical_id, "ManagedPolicyArns", arn, node)
                    )
                    continue
                draft.managed.append((arn, origin))
        raw_inline = t.props(logical_id).get("Policies")
        policies = t.prop(logical_id, "Policies")
        if policies is not None and not isinstance(policies, list):
            draft.inline.append(
                self.unreadable_policies(logical_id, "Policies", policies, raw_inline)
            )
        for index, item in enumerate(policies if isinstance(policies, list) else []):
            node = (
                raw_inline[index]
                if isinstance(raw_inline, list) and index < len(raw_inline)
                else None
            )
            for policy in alternatives(item):
                if not isinstance(policy, Mapping):
                    draft.inline.append(
                        self.unreadable_policies(logical_id, "Policies", policy, node)
                    )
                    continue
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
        self.out.roles.setdefault(draft.arn, []).append(draft)
        if "KarpenterNodeRole" in name:
            self.out.karpenter_roles.append((draft.arn, t.file))

    def _role_names(self, logical_id: str, key: str) -> list[str] | None:
        """The role names a policy or instance profile lists; None when one is not resolvable."""
        value = self.t.prop(logical_id, key)
        if value is None:
            return []
        names = [v for item in value for v in alternatives(item)] if isinstance(value, list) else []
        if not isinstance(value, list) or any(
            not isinstance(n, str) or unresolved(n) for n in names
        ):
            self.gap("iac:policy", f"{key} {value} is not resolvable from the template", logical_id)
            return None
        return [str(n) for n in names]

    def _attach_to_roles(self, logical_id: str, key: str, attachment: PolicyAttachment) -> None:
        roles = self._role_names(logical_id, key)
        if roles is None:  # any role of the template may get it: their permissions are unknown
            unknown = replace(attachment, arn=None, document=None, version=None)
            roles = [self.t.name(r) for r in self.t.role_ids()]
            attachment = replace(unknown, name=f"{attachment.name} (attached to unknown roles)")
        for role in roles:
            self.out.role_policies.append((role, attachment))

    def policy(self, logical_id: str) -> None:
        document, problem = _document(self.t.prop(logical_id, "PolicyDocument"))
        if problem:
            self.gap("iac:policy", problem, logical_id)
        name = _str(self.t.prop(logical_id, "PolicyName")) or logical_id
        self._attach_to_roles(
            logical_id,
            "Roles",
            PolicyAttachment(
                name=name, kind="inline", document=document, origin=self.t.origin(logical_id)
            ),
        )

    def role_policy(self, logical_id: str) -> None:
        document, problem = _document(self.t.prop(logical_id, "PolicyDocument"))
        if problem:
            self.gap("iac:policy", problem, logical_id)
        self._attach_to_roles(
            logical_id,
            "RoleName",
            PolicyAttachment(
                name=_str(self.t.prop(logical_id, "PolicyName")) or logical_id,
                kind="inline",
                document=document,
                origin=self.t.origin(logical_id),
            ),
        )

    def managed_policy(self, logical_id: str) -> None:
        document, problem = _document(self.t.prop(logical_id, "PolicyDocument"))
        if problem:
            self.gap("iac:policy", problem, logical_id)
        arn = synthetic.policy_arn(self.t.name(logical_id))
        self.out.managed_documents[arn] = document
        self._attach_to_roles(
            logical_id,
            "Roles",
            synthetic.managed_attachment(arn, self.t.origin(logical_id), document),
        )

    def instance_profile(self, logical_id: str) -> None:
        names = self._role_names(logical_id, "Roles") or []  # unreadable: the role is unknown
        name = self.t.name(logical_id)
        self.out.profiles[name] = names
        self.out.profiles[str(self.t.ev.get_att(logical_id, "Arn"))] = names

    def _cluster_name(self, logical_id: str) -> str:
        value = _str(self.t.prop(logical_id, "ClusterName"))
        return value if value is not None else f"${{{logical_id}.ClusterName}}"

    def part(self, logical_id: str, item: Any, **extra: Any) -> None:
        self.out.parts.append(
            _Part(
                self._cluster_name(logical_id),
                self.t.file,
                item,
                cluster_id=self.t.cluster_ref(logical_id),
                **extra,
            )
        )

    def metadata(self, source_id: str, options: Any, raw: Any) -> MetadataOptions:
        metadata, unreadable = _metadata_options(options, self.t.origin(source_id))
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
        ami = _str(t.prop(logical_id, "AmiType"))
        lt = t.prop(logical_id, "LaunchTemplate")
        metadata = None
        if isinstance(lt, Mapping):
            lt_id = t.launch_template(lt.get("Id") or lt.get("Name"))
            if lt_id is not None:
                metadata = self.metadata(
                    lt_id,
                    t.prop(lt_id, "LaunchTemplateData", "MetadataOptions"),
                    _raw(t.props(lt_id), "LaunchTemplateData", "MetadataOptions"),
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
                    _raw(t.props(lt_id), "LaunchTemplateData", "MetadataOptions"),
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
                    _raw(t.props(lc_id), "MetadataOptions"),
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
        local = [c for c in self.t.resources if self.t.type_of(c) in CLUSTER_TYPES]
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
                name=_str(t.prop(logical_id, "FargateProfileName")) or t.name(logical_id),
                pod_execution_role_arn=self.role_reference(
                    t.prop(logical_id, "PodExecutionRoleArn"), logical_id, "PodExecutionRoleArn"
                ),
                origin=t.origin(logical_id),
            ),
        )

    def nested_stack(self, logical_id: str) -> None:
        """A nested stack that was not read with its parent (its template was not scanned)."""
        url = self.t.prop(logical_id, "TemplateURL")
        if self.t.nested_file(logical_id, self.out.scanned) is not None:
            return
        params = self.t.prop(logical_id, "Parameters")
        names = [
            v
            for v in (params.values() if isinstance(params, Mapping) else ())
            if isinstance(v, str) and not unresolved(v)
        ]
        self.out.nested.append(
            _Nested(self.t.file, logical_id, self.t.origin(logical_id), str(url), names)
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
        if "unacceptable character" in message:  # the decoder gives an offset, not the line
            bad = unacceptable_character(path.read_text(encoding="utf-8-sig", errors="replace"))
            message, line = bad or (message, line)
        out.gaps.append(
            Gap(what="iac:parse", reason=f"syntax error: {message}", resource=str(path), line=line)
        )
        return None
    return data


class _Exports:
    """``Fn::ImportValue``: the outputs the scanned templates export, by export name."""

    def __init__(self) -> None:
        self.templates: list[_Template] = []
        self._index: dict[str, list[tuple[_Template, Any]]] | None = None
        self._resolving: set[str] = set()

    def get(self, name: str) -> Any:
        """The exported value; None when no scanned template, or more than one, exports it."""
        if self._index is None:
            self._index = {}
            for t in self.templates:
                for export, value in t.exports():
                    key = t.ev.value(export)
                    if isinstance(key, str) and not unresolved(key):
                        self._index.setdefault(key, []).append((t, value))
        found = self._index.get(name, [])
        if len(found) != 1 or name in self._resolving:
            return None
        self._resolving.add(name)
        try:
            template, value = found[0]
            return template.ev.value(value)
        finally:
            self._resolving.discard(name)


class _Finisher:
    """Joins what every template contributed into clusters and roles."""

    def __init__(self, assembly: _Assembly) -> None:
        self.a = assembly
        self.by_name = {drafts[0].name: arn for arn, drafts in assembly.roles.items()}
        self.undefined: dict[str, str] = {}  # cluster name -> id of its placeholder

    def gap(self, draft: _ClusterDraft, origin: Origin | None, reason: str) -> None:
        self.a.gaps.append(
            Gap(
                what="iac:cluster",
                cluster=draft.cluster.arn,
                resource=origin.file if origin else draft.file,
                line=origin.line if origin else None,
                reason=reason,
            )
        )

    def placeholder(self, name: str, file: str, origin: Origin | None) -> _ClusterDraft:
        cluster_id = self.undefined.setdefault(name, f"cfn:{file}#{name}")
        draft = self.a.clusters.get(cluster_id)
        if draft is None:
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
            self.a.clusters[cluster_id] = draft
            self.gap(
                draft,
                origin,
                f"cluster {name} is not defined in the scanned files: its add-ons, pod "
                "identity associations, access entries and OIDC issuer are unknown",
            )
        return draft

    def clusters_named(
        self, name: str, file: str, cluster_id: str | None = None
    ) -> list[_ClusterDraft]:
        """The cluster a part joins: the one it references, else the only one of that name (in
        its own template first); several when the name is ambiguous, none when undefined."""
        if cluster_id in self.a.clusters:
            return [self.a.clusters[cluster_id]]
        named = [d for d in self.a.clusters.values() if d.defined and d.cluster.name == name]
        local = [d for d in named if d.file == file]
        return local if len(local) == 1 else named

    def targets(
        self, name: str, file: str, origin: Origin | None, cluster_id: str | None = None
    ) -> tuple[list[_ClusterDraft], bool]:
        """(clusters, tied to exactly one?)"""
        found = self.clusters_named(name, file, cluster_id)
        if not found:
            return [self.placeholder(name, file, origin)], True
        return found, len(found) == 1

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

    @staticmethod
    def binds_aws_node(item: Any) -> bool:
        if isinstance(item, Addon):
            return item.name == "vpc-cni"
        return isinstance(item, PodIdentityAssociation) and (
            item.namespace,
            item.service_account,
        ) == ("kube-system", "aws-node")

    @staticmethod
    def field_of(item: Any) -> str:
        return {
            NodeGroup: "node_groups",
            FargateProfile: "fargate",
            Addon: "addons",
            PodIdentityAssociation: "associations",
        }.get(type(item), "access_entries")

    def unknown_part(self, draft: _ClusterDraft, item: Any, reason: str) -> None:
        """A part that may or may not belong to (or deploy on) this cluster: what it would
        change becomes unknown; a node group stays counted as a node of unknown role."""
        self.gap(draft, item.origin, reason)
        field_name = self.field_of(item)
        node = isinstance(item, NodeGroup) or (
            isinstance(item, AccessEntry) and item.type.upper() in _NODE_ENTRY_TYPES
        )
        if node:
            draft.node_groups.append(
                NodeGroup(
                    name=getattr(item, "name", None) or item.principal_arn,
                    kind="unknown",
                    role_arn=None,
                    origin=item.origin,
                )
            )
        if field_name != "node_groups":
            draft.unknown.add(field_name)

    def place(self, part: _Part) -> None:
        item = part.item
        drafts, tied = self.targets(part.cluster_name, part.file, item.origin, part.cluster_id)
        if isinstance(item, NodeGroup) and part.profile is not None:
            item = replace(item, role_arn=self.profile_role(part))
        if not tied:
            files = ", ".join(sorted(d.file for d in drafts))
            for draft in drafts:
                self.unknown_part(
                    draft,
                    item,
                    f"cluster name {part.cluster_name} is defined in several scanned templates "
                    f"({files}): which one {self.field_of(item)} entry at "
                    f"{item.origin.describe() if item.origin else part.file} belongs to is unknown",
                )
            return
        (draft,) = drafts
        if part.unsure and self.binds_aws_node(item):
            self.unknown_part(draft, item, f"{part.unsure}: aws-node's binding is unknown")
            return
        getattr(draft, self.field_of(item)).append(item)

    def nested(self, stack: _Nested) -> None:
        """A nested stack not read: node groups it may create are of unknown role."""
        local = [d for d in self.a.clusters.values() if d.file == stack.file and d.defined]
        named = [d for n in stack.names for d in self.clusters_named(n, stack.file)]
        drafts = list({d.cluster.arn: d for d in local + named}.values())
        reason = (
            f"nested stack {stack.logical_id} ({stack.url}) is not among the scanned files: the "
            "node groups, roles and bindings it creates are unknown"
        )
        if not drafts:
            self.a.gaps.append(
                Gap(
                    what="iac:nested-stack",
                    resource=stack.file,
                    line=stack.origin.line,
                    reason=reason,
                )
            )
        for draft in drafts:
            self.gap(draft, stack.origin, reason)
            draft.node_groups.append(
                NodeGroup(
                    name=f"nested stack {stack.logical_id}",
                    kind="unknown",
                    role_arn=None,
                    origin=stack.origin,
                )
            )
            draft.unknown.update(("addons", "associations"))

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
            origin = self.a.roles[arn][0].origin
            local = [d for d in self.a.clusters.values() if d.file == file and d.defined]
            if suffix:
                drafts, tied = self.targets(suffix, file, origin)
            else:
                drafts, tied = local, len(local) == 1
            if not drafts:
                self.a.gaps.append(
                    Gap(
                        what="iac:node-group",
                        resource=file,
                        reason=(f"Karpenter node role {name}: cannot tell which cluster it serves"),
                    )
                )
                continue
            group = NodeGroup(name=name, kind="karpenter", role_arn=arn, origin=origin)
            for draft in drafts:
                if tied:
                    draft.node_groups.append(group)
                else:
                    self.unknown_part(
                        draft,
                        group,
                        f"Karpenter node role {name}: cannot tell which of "
                        f"{len(drafts)} clusters it serves",
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

    def unique_role(self, drafts: list[_RoleDraft], extra: list[PolicyAttachment]) -> Role:
        """A role defined once; defined again differently, it is unknown (which one deploys?)."""
        roles = [self.role(d, extra) for d in drafts]
        first = roles[0]
        if all(_without_origins(r) == _without_origins(first) for r in roles[1:]):
            return first
        where = ", ".join(r.origin.describe() for r in roles if r.origin)
        self.a.gaps.append(
            Gap(
                what="iac:role",
                resource=first.origin.file if first.origin else None,
                line=first.origin.line if first.origin else None,
                reason=f"role {first.name} is defined differently in several templates "
                f"({where}): its trust and permissions are unknown",
            )
        )
        return replace(first, trust_policy=None, policies=None, tags=None)

    def finish(self, out: IacFragment) -> None:
        for part in self.a.parts:
            self.place(part)
        for stack in self.a.nested:
            self.nested(stack)
        for draft in self.a.clusters.values():
            self.node_entries(draft)
        self.karpenter()
        extra: dict[str, list[PolicyAttachment]] = {}
        for role_name, attachment in self.a.role_policies:
            arn = self.by_name.get(role_name)
            if arn is not None:
                extra.setdefault(arn, []).append(attachment)
        out.roles.extend(self.unique_role(d, extra.get(arn, [])) for arn, d in self.a.roles.items())
        for draft in self.a.clusters.values():
            out.clusters.append(
                replace(
                    draft.cluster,
                    node_groups=tuple(draft.node_groups),
                    fargate_profiles=draft.read("fargate"),
                    addons=draft.read("addons"),
                    pod_identity_associations=draft.read("associations"),
                    access_entries=draft.read("access_entries"),
                )
            )
        out.oidc_providers.extend(self.a.providers)
        out.gaps.extend(self.a.gaps)


def _without_origins(role: Role) -> Role:
    policies = tuple(replace(p, origin=None) for p in role.policies or ())
    return replace(role, origin=None, policies=policies)


def _stack_names(files: Sequence[str]) -> dict[str, str]:
    """A stack name per template: its file name, with as many parent folders as it takes to
    tell templates of the same file name apart (two stacks never share a generated name)."""
    parts = {f: Path(f).with_name(Path(f).name.split(".")[0]).parts for f in files}
    names: dict[str, str] = {}
    for file, path in parts.items():
        depth = 1
        while depth < len(path) and any(
            other != file and o[-depth:] == path[-depth:] for other, o in parts.items()
        ):
            depth += 1
        names[file] = "-".join(path[-depth:]).lstrip("-./") or "stack"
    return names


def collect_cloudformation(paths: Sequence[Path]) -> IacFragment:
    """Every cluster, node identity, role and OIDC provider the templates at ``paths`` define."""
    out = IacFragment()
    assembly = _Assembly()
    decoded: dict[str, Mapping[str, Any]] = {}
    for path in paths:
        data = _decode(path, out)
        if data is not None:
            out.files_read.append(str(path))
            decoded[str(path)] = data
    assembly.scanned = {os.path.normpath(f): f for f in decoded}
    stems = _stack_names(list(decoded))
    exports = _Exports()
    templates = [_Template(f, data, stems[f], exports.get) for f, data in decoded.items()]
    exports.templates = templates
    children: dict[str, list[tuple[_Template, str]]] = {}
    for parent in templates:
        for logical_id in parent.resources:
            child = parent.nested_file(logical_id, assembly.scanned)
            stack = parent.type_of(logical_id) == "AWS::CloudFormation::Stack"
            local = child is not None and child != parent.file
            if stack and child is not None and local and parent.exists(logical_id):
                children.setdefault(child, []).append((parent, logical_id))
    for template in templates:
        followed = children.get(template.file)
        if not followed:
            _Reader(template, assembly).read()
        for parent, logical_id in followed or ():
            params = parent.prop(logical_id, "Parameters")
            nested = _Template(
                template.file,
                template.data,
                template.stem,
                exports.get,
                params if isinstance(params, Mapping) else {},
            )
            _Reader(nested, assembly).read()
    _Finisher(assembly).finish(out)
    return out
