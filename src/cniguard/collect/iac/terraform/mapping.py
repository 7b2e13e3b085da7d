"""Resource instances (from HCL or plan JSON) -> the inventory model.

Links follow values, as AWS would: a policy attachment's ``role`` is a role's name, a node group's
``node_role_arn`` a role's ARN, an add-on's ``cluster_name`` a cluster's name. Computed attributes
carry placeholders (``computed.py``) so references written either way meet. A value that could not
be evaluated stays ``None`` in the model and becomes a :class:`Gap` naming file, line and
expression.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.terraform.computed import qualify
from cniguard.collect.iac.terraform.module import Problem, ResourceInstance
from cniguard.collect.iac.terraform.values import Unknown, Value, deep_unknown
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

WHAT = "iac:terraform"


def _first(value: Value) -> dict[str, Value]:
    """The first block of a nested block list (``kubernetes_network_config[0]``)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def _document(value: Value) -> JsonDict | str | None:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return value
    return parsed if isinstance(parsed, dict) else value


def _strings(value: Value) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _describe(value: Value) -> str:
    return value.describe() if isinstance(value, Unknown) else f"a {type(value).__name__} value"


def _tags(value: Value) -> dict[str, str] | None:
    if isinstance(value, dict) and not deep_unknown(value):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    return None if value is not None else {}


def _label(value: Value) -> str:
    """How an unresolved value is named in the model: by its expression."""
    return f"`{value.expr}` (unresolved)" if isinstance(value, Unknown) else "(unresolved)"


def _unexpanded(item: ResourceInstance) -> str:
    """Why a resource whose count / for_each is unknown may not exist (or exist many times)."""
    assert item.expansion is not None
    return f"{item.expanded_by}: cannot evaluate {item.expansion.describe()}"


def _maybe(item: ResourceInstance, name: str) -> str:
    """The name of a policy that a resource of unknown count / for_each may attach."""
    assert item.expansion is not None
    return f"{name} ({item.expanded_by} `{item.expansion.expr}` unresolved)"


def _same(left: Unknown, right: Unknown) -> bool:
    """Two unknowns from the same unresolved expression (the same value at apply time)."""
    return (left.expr, left.reason, left.file, left.line) == (
        right.expr,
        right.reason,
        right.file,
        right.line,
    )


def _arns_of(cluster: Cluster) -> set[str]:
    """Every role ARN the cluster's objects name (to tell which cluster a role gap concerns)."""
    arns = {cluster.auto_mode_node_role_arn}
    arns |= {g.role_arn for g in cluster.node_groups or ()}
    arns |= {f.pod_execution_role_arn for f in cluster.fargate_profiles or ()}
    arns |= {a.service_account_role_arn for a in cluster.addons or ()}
    arns |= {a.role_arn for a in cluster.pod_identity_associations or ()}
    arns |= {e.principal_arn for e in cluster.access_entries or ()}
    return {a for a in arns if a}


@dataclass(frozen=True)
class _ClusterRef:
    """A cluster resource and what its children may name it by."""

    item: ResourceInstance
    id: str
    qualified: str  # root-qualified address: the owner of its unresolved attributes
    name: Value  # a string, or the Unknown its name evaluated to


@dataclass(frozen=True)
class _Placement:
    """The clusters a child resource may belong to."""

    clusters: tuple[_ClusterRef, ...]
    certain: bool  # exactly one cluster, named by value or by reference, and the child exists
    why: str | None  # why it is not certain (becomes a gap on each candidate cluster)


@dataclass
class _Mapper:
    instances: list[ResourceInstance]
    fragment: IacFragment = field(default_factory=IacFragment)
    by_type: dict[str, list[ResourceInstance]] = field(default_factory=lambda: defaultdict(list))
    # role name, or "@" + root-qualified address -> the ARN of the role emitted for it
    role_arns: dict[str, str] = field(default_factory=dict)
    # gaps about a role's policies, by role key (None: any role); their cluster is told last
    role_gaps: list[tuple[str | None, Gap]] = field(default_factory=list)
    refs: list[_ClusterRef] = field(default_factory=list)

    def __post_init__(self) -> None:
        for instance in self.instances:
            self.by_type[instance.type].append(instance)

    # --- helpers -----------------------------------------------------------------------------

    def known(self, instance: ResourceInstance, key: str, cluster: str | None = None) -> Value:
        """The value of an attribute, or None with a gap when it could not be evaluated."""
        value = instance.values.get(key)
        found = deep_unknown(value) if not isinstance(value, Unknown) else value
        if found is None:
            return value
        self.gap(instance, f"{key}: cannot evaluate {found.describe()}", cluster, key)
        return None

    def make_gap(
        self, instance: ResourceInstance, reason: str, cluster: str | None, key: str | None = None
    ) -> Gap:
        return Gap(
            what=WHAT,
            reason=f"{instance.address}: {reason}",
            cluster=cluster,
            resource=instance.origin.file,
            line=instance.attribute_lines.get(key or "", instance.origin.line),
        )

    def gap(
        self, instance: ResourceInstance, reason: str, cluster: str | None, key: str | None = None
    ) -> None:
        self.fragment.gaps.append(self.make_gap(instance, reason, cluster, key))

    def role_gap(
        self, role: str | None, instance: ResourceInstance, reason: str, key: str | None
    ) -> None:
        self.role_gaps.append((role, self.make_gap(instance, reason, None, key)))

    def origin(self, instance: ResourceInstance, key: str | None = None) -> Origin:
        line = instance.attribute_lines.get(key or "") if key else None
        return Origin(source="iac", file=instance.origin.file, line=line or instance.origin.line)

    def expansion_gap(self, instance: ResourceInstance, cluster: str | None, effect: str) -> None:
        """A resource whose count / for_each is unknown: it may not exist, or exist many times."""
        if instance.expansion is not None:
            self.gap(instance, f"{_unexpanded(instance)}; {effect}", cluster, instance.expanded_by)

    # --- IAM ---------------------------------------------------------------------------------

    def policy_documents(self) -> dict[str, Value]:
        """Documents of the code's policies by ARN, and by "@" + address when it is unresolved."""
        documents: dict[str, Value] = {}
        for policy in self.by_type["aws_iam_policy"]:
            arn = policy.values.get("arn")
            if isinstance(arn, str):
                documents[arn] = policy.values.get("policy")
            elif isinstance(arn, Unknown) and arn.owner:
                documents[f"@{arn.owner}"] = policy.values.get("policy")
        return documents

    def attachment(
        self, arn: Value, origin: Origin, documents: dict[str, Value]
    ) -> PolicyAttachment:
        """A managed policy by ARN; one that cannot be told has no document (unknown grant)."""
        owned = f"@{arn.owner}" if isinstance(arn, Unknown) and arn.owner else None
        if owned in documents:
            document = documents[owned]
            return PolicyAttachment(
                name=owned[1:].rsplit("/", 1)[-1],
                kind="managed",
                document=None if isinstance(document, Unknown) else _document(document),
                origin=origin,
            )
        if not isinstance(arn, str):
            return PolicyAttachment(name=_label(arn), kind="managed", origin=origin)
        if arn in documents:
            document = documents[arn]
            return synthetic.managed_attachment(
                arn, origin, None if isinstance(document, Unknown) else _document(document)
            )
        return synthetic.managed_attachment(arn, origin)

    def role_key(self, role: Value) -> str | None:
        """What an attaching resource's ``role`` names: a role name, or "@" + the address of a
        role whose name is unresolved; None when it cannot be told."""
        if isinstance(role, str):
            return role
        if isinstance(role, Unknown) and role.owner:
            return f"@{role.owner}"
        return None

    def role_policies(self) -> tuple[dict[str, list[PolicyAttachment]], list[PolicyAttachment]]:
        """Attachments and inline policies by role key, and those whose role cannot be told
        (every role of this root module may have them)."""
        documents = self.policy_documents()
        policies: dict[str, list[PolicyAttachment]] = defaultdict(list)
        anywhere: list[PolicyAttachment] = []

        def add(item: ResourceInstance, role: Value, key: str, policy: PolicyAttachment) -> None:
            target = self.role_key(role)
            if target is not None:
                policies[target].append(policy)
                if item.expansion is not None or policy.document is None:
                    self.role_gap(target, item, self.policy_gap(item, policy), key)
                return
            anywhere.append(policy)
            self.role_gap(
                None,
                item,
                f"{key}: cannot evaluate {_describe(role)}; every role of this module is "
                f"treated as possibly having {policy.name}",
                key,
            )

        for item in self.by_type["aws_iam_role_policy_attachment"]:
            add(item, item.values.get("role"), "role", self.attached(item, documents))
        for item in self.by_type["aws_iam_policy_attachment"]:
            policy = self.attached(item, documents)
            roles = item.values.get("roles")
            for role in roles if isinstance(roles, list) else [roles] if roles is not None else []:
                add(item, role, "roles", policy)
        for item in self.by_type["aws_iam_role_policy"]:
            role = item.values.get("role")
            name = item.values.get("name")
            document = item.values.get("policy")
            inline = PolicyAttachment(
                name=name if isinstance(name, str) else item.address,
                kind="inline",
                document=None if deep_unknown(document) else _document(document),
                origin=self.origin(item, "policy"),
            )
            if item.expansion is not None:
                inline = replace(inline, name=_maybe(item, inline.name), document=None)
            add(item, role.split(":")[0] if isinstance(role, str) else role, "role", inline)
        return policies, anywhere

    def attached(self, item: ResourceInstance, documents: dict[str, Value]) -> PolicyAttachment:
        """The policy an attachment resource attaches; unknown when it may not exist."""
        arn = item.values.get("policy_arn")
        policy = self.attachment(arn, self.origin(item, "policy_arn"), documents)
        if item.expansion is None:
            return policy
        name = policy.name if isinstance(arn, str) else item.address
        return replace(policy, name=_maybe(item, name), document=None)

    def policy_gap(self, item: ResourceInstance, policy: PolicyAttachment) -> str:
        if item.expansion is not None:
            return f"{_unexpanded(item)}; the role's grant is unknown ({policy.name})"
        for key in ("policy_arn", "policy"):
            found = deep_unknown(item.values.get(key))
            if found is not None:
                return f"{key}: cannot evaluate {found.describe()}; the role's grant is unknown"
        return f"policy {policy.name} cannot be read; the role's grant is unknown"

    def roles(self) -> None:
        policies, anywhere = self.role_policies()
        documents = self.policy_documents()
        for item in self.by_type["aws_iam_role"]:
            qualified = qualify(item.scope, item.address)
            arn, name = item.values.get("arn"), item.values.get("name")
            named = isinstance(arn, str) and isinstance(name, str)
            if not isinstance(arn, str) or not isinstance(name, str):
                self.role_gap(f"@{qualified}", item, self.name_gap(item), "name")
                name = qualified
                arn = synthetic.role_arn(name)
            self.role_arns[name] = self.role_arns[f"@{qualified}"] = arn
            if item.expansion is not None:
                self.role_gap(
                    f"@{qualified}",
                    item,
                    f"{_unexpanded(item)}; the role may not exist (reported as if it does)",
                    item.expanded_by,
                )
            attached = [
                *(policies.get(name, []) if named else []),
                *policies.get(f"@{qualified}", []),
                *anywhere,
            ]
            attached.extend(self.inline_managed(item, documents))
            boundary = item.values.get("permissions_boundary")
            if isinstance(boundary, Unknown):
                self.role_gap(
                    name,
                    item,
                    f"permissions_boundary: cannot evaluate "
                    f"{boundary.describe()}; the role's grant is unknown",
                    "permissions_boundary",
                )
            boundary_doc = documents.get(boundary) if isinstance(boundary, str) else None
            self.fragment.roles.append(
                Role(
                    arn=arn,
                    name=item.address if name == qualified else name,
                    account=synthetic.ACCOUNT,
                    trust_policy=_document(self.known(item, "assume_role_policy")),
                    policies=tuple(attached),
                    permissions_boundary_arn=(
                        boundary
                        if isinstance(boundary, str)
                        else _label(boundary)
                        if isinstance(boundary, Unknown)
                        else None
                    ),
                    permissions_boundary=_document(boundary_doc),
                    tags=_tags(self.known(item, "tags")),
                    origin=item.origin,
                )
            )

    def name_gap(self, item: ResourceInstance) -> str:
        name = item.values.get("name")
        return f"name: cannot evaluate {_describe(name)}; linked by reference to its address"

    def inline_managed(
        self, item: ResourceInstance, documents: dict[str, Value]
    ) -> list[PolicyAttachment]:
        """``managed_policy_arns`` and ``inline_policy`` blocks; unresolved ones are unknown."""
        found: list[PolicyAttachment] = []
        role = self.role_key(item.values.get("name")) or f"@{qualify(item.scope, item.address)}"
        managed = item.values.get("managed_policy_arns")
        origin = self.origin(item, "managed_policy_arns")
        for arn in managed if isinstance(managed, list) else [] if managed is None else [managed]:
            found.append(self.attachment(arn, origin, documents))
            if not isinstance(arn, str):
                self.role_gap(
                    role,
                    item,
                    f"managed_policy_arns: cannot evaluate "
                    f"{_describe(arn)}; the role's grant is unknown",
                    "managed_policy_arns",
                )
        inline_blocks = item.values.get("inline_policy")
        if isinstance(inline_blocks, Unknown):
            inline_blocks = [{"name": _label(inline_blocks), "policy": inline_blocks}]
        for inline in inline_blocks or []:
            if not isinstance(inline, dict) or inline.get("policy") is None:
                continue
            document = inline["policy"]
            if deep_unknown(document) is not None:
                self.role_gap(
                    role,
                    item,
                    f"inline_policy: cannot evaluate "
                    f"{_describe(deep_unknown(document))}; the role's grant is unknown",
                    "inline_policy",
                )
            found.append(
                PolicyAttachment(
                    name=str(inline.get("name") or "inline"),
                    kind="inline",
                    document=None if deep_unknown(document) else _document(document),
                    origin=self.origin(item, "inline_policy"),
                )
            )
        return found

    def role_ref(self, item: ResourceInstance, key: str, cluster: str) -> str | None:
        return self.block_role(item, item.values.get(key), cluster, key, key)

    def instance_profiles(self) -> dict[str, str]:
        """Instance profile name and ARN -> role ARN."""
        profiles: dict[str, str] = {}
        for item in self.by_type["aws_iam_instance_profile"]:
            role = item.values.get("role")
            key = self.role_key(role)
            role_arn = self.role_arns.get(key) if key else None
            if role_arn is None and isinstance(role, str):
                role_arn = synthetic.role_arn(role)
            if role_arn is None:
                continue
            for attribute in ("name", "arn"):
                value = item.values.get(attribute)
                if isinstance(value, str):
                    profiles[value] = role_arn
                elif isinstance(value, Unknown) and value.owner:
                    profiles[f"@{value.owner}"] = role_arn
        return profiles

    def oidc_providers(self) -> None:
        for item in self.by_type["aws_iam_openid_connect_provider"]:
            url = self.known(item, "url")
            if item.expansion is not None:
                # A provider that may not exist must not make IRSA look set up.
                self.expansion_gap(item, None, "the provider may not exist (not counted)")
                continue
            self.fragment.oidc_providers.append(
                OidcProvider(
                    arn=str(item.values.get("arn")),
                    url=url.removeprefix("https://") if isinstance(url, str) else "",
                    client_ids=_strings(self.known(item, "client_id_list")),
                    account=synthetic.ACCOUNT,
                    origin=item.origin,
                )
            )

    # --- which cluster -----------------------------------------------------------------------

    def placement(self, item: ResourceInstance, value: Value) -> _Placement:
        """The clusters a child naming ``value`` as its cluster may belong to: by name, by
        reference to a cluster whose name is unresolved, or any cluster of this module."""
        if isinstance(value, str):
            named = tuple(r for r in self.refs if r.name == value)
            if named:
                return self.exists(item, named, None)
            unresolved = tuple(r for r in self.refs if isinstance(r.name, Unknown))
            why = f"cluster {value!r} may be a cluster whose name is unresolved"
            return _Placement(unresolved, False, why)
        if isinstance(value, Unknown):
            owned = tuple(r for r in self.refs if value.owner == r.qualified)
            if owned:
                return self.exists(item, owned, None)
            same = tuple(
                r for r in self.refs if isinstance(r.name, Unknown) and _same(r.name, value)
            )
            if len(same) == 1:
                return self.exists(item, same, None)
            why = f"cluster_name: cannot evaluate {value.describe()}; it may belong to any cluster"
            return _Placement(same or tuple(self.refs), False, why)
        return _Placement((), False, None)

    def exists(
        self, item: ResourceInstance, clusters: tuple[_ClusterRef, ...], why: str | None
    ) -> _Placement:
        if item.expansion is None and len(clusters) == 1:
            return _Placement(clusters, True, why)
        if item.expansion is not None:
            why = f"{_unexpanded(item)}; it may not exist"
        return _Placement(clusters, False, why or "several clusters share its name")

    def children(
        self, resource_type: str, ref: _ClusterRef, effect: str | None
    ) -> tuple[list[ResourceInstance], bool]:
        """Children that surely belong to this cluster and exist, and whether others may (a gap
        saying ``effect`` for each of those, unless None)."""
        found, unsure = [], False
        for item in self.by_type[resource_type]:
            place = self.placement(item, item.values.get("cluster_name"))
            if ref not in place.clusters:
                continue
            if place.certain:
                found.append(item)
                continue
            unsure = True
            if effect is not None:
                self.gap(item, f"{place.why} ({effect})", ref.id, "cluster_name")
        return found, unsure

    # --- compute -----------------------------------------------------------------------------

    def launch_templates(self) -> dict[str, ResourceInstance]:
        templates: dict[str, ResourceInstance] = {}
        for item in self.by_type["aws_launch_template"]:
            if item.expansion is not None:
                continue  # a node group that names it finds no metadata options: unknown
            for key in ("id", "name"):
                if isinstance(item.values.get(key), str):
                    templates[item.values[key]] = item
        return templates

    def metadata(self, template: ResourceInstance | None) -> MetadataOptions | None:
        if template is None:
            return None
        options = _first(template.values.get("metadata_options"))
        tokens, hops = options.get("http_tokens"), options.get("http_put_response_hop_limit")
        endpoint = options.get("http_endpoint")
        if not options or isinstance(tokens, Unknown) or isinstance(hops, Unknown):
            return None
        return MetadataOptions(
            http_tokens=tokens if tokens in ("required", "optional") else None,
            hop_limit=int(hops) if isinstance(hops, int | float) else None,
            http_endpoint=endpoint if endpoint in ("enabled", "disabled") else None,
            origin=self.origin(template, "metadata_options"),
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
                    metadata_options=self.metadata(
                        self.template_of(item.values.get("launch_template"), templates)
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
                    metadata_options=self.metadata(template),
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

    # --- clusters ----------------------------------------------------------------------------

    def addons(
        self, ref: _ClusterRef
    ) -> tuple[list[Addon] | None, list[PodIdentityAssociation] | None]:
        addons: list[Addon] = []
        associations: list[PodIdentityAssociation] = []
        cluster_id = ref.id
        items, addons_unsure = self.children(
            "aws_eks_addon", ref, "the cluster's add-ons and pod identity are unknown"
        )
        for item in items:
            ids = []
            for index, block in enumerate(item.values.get("pod_identity_association") or []):
                if not isinstance(block, dict):
                    continue
                association_id = (
                    f"tf:{qualify(item.scope, item.address)}.pod_identity_association[{index}]"
                )
                ids.append(association_id)
                associations.append(
                    PodIdentityAssociation(
                        arn=association_id,
                        namespace="kube-system",
                        service_account=str(block.get("service_account")),
                        role_arn=self.block_role(
                            item,
                            block.get("role_arn"),
                            cluster_id,
                            "pod_identity_association",
                            "pod_identity_association.role_arn",
                        ),
                        origin=self.origin(item, "pod_identity_association"),
                    )
                )
            role = self.role_ref(item, "service_account_role_arn", cluster_id)
            config = self.known(item, "configuration_values", cluster_id)
            version = item.values.get("addon_version")
            addons.append(
                Addon(
                    name=str(item.values.get("addon_name")),
                    version=version if isinstance(version, str) else None,
                    service_account_role_arn=role,
                    pod_identity_association_arns=tuple(ids),
                    configuration_values=config if isinstance(config, str) else None,
                    origin=item.origin,
                )
            )
        items, associations_unsure = self.children(
            "aws_eks_pod_identity_association", ref, "the cluster's pod identity is unknown"
        )
        for item in items:
            target = item.values.get("target_role_arn")
            associations.append(
                PodIdentityAssociation(
                    arn=str(item.values.get("association_arn")),
                    namespace=str(self.known(item, "namespace", cluster_id)),
                    service_account=str(self.known(item, "service_account", cluster_id)),
                    role_arn=self.role_ref(item, "role_arn", cluster_id),
                    target_role_arn=target if isinstance(target, str) else None,
                    origin=item.origin,
                )
            )
        return (
            None if addons_unsure else addons,
            None if associations_unsure or addons_unsure else associations,
        )

    def block_role(
        self, item: ResourceInstance, value: Value, cluster: str, block: str, label: str
    ) -> str | None:
        """A role ARN, also inside a nested block (``compute_config``); a role whose name is
        unresolved is found by reference."""
        if isinstance(value, str):
            return value
        if isinstance(value, Unknown) and f"@{value.owner}" in self.role_arns:
            return self.role_arns[f"@{value.owner}"]
        if value is not None:
            self.gap(item, f"{label}: cannot evaluate {_describe(value)}", cluster, block)
        return None

    def cluster_ref(self, item: ResourceInstance) -> _ClusterRef:
        qualified = qualify(item.scope, item.address)
        return _ClusterRef(item, f"tf:{qualified}", qualified, item.values.get("name"))

    def clusters(self) -> None:
        self.refs = [self.cluster_ref(item) for item in self.by_type["aws_eks_cluster"]]
        for ref in self.refs:
            self.fragment.clusters.append(self.cluster(ref))
        self.orphans()
        self.place_role_gaps()

    def cluster(self, ref: _ClusterRef) -> Cluster:
        item, cluster_id = ref.item, ref.id
        name = ref.name
        if not isinstance(name, str):
            self.gap(
                item,
                f"name: cannot evaluate {_describe(name)}; reported under its address, "
                "children linked by reference",
                cluster_id,
                "name",
            )
            name = f"{item.address} (name unresolved)"
        self.expansion_gap(item, cluster_id, "the cluster may not exist (reported as if it does)")
        network = _first(item.values.get("kubernetes_network_config"))
        family = (
            network.get("ip_family", "ipv4")
            if network or "kubernetes_network_config" not in item.values
            else None
        )
        if isinstance(family, Unknown):
            self.gap(
                item,
                f"ip_family: cannot evaluate {family.describe()}",
                cluster_id,
                "kubernetes_network_config",
            )
        compute = _first(item.values.get("compute_config"))
        auto = compute.get("enabled", False)
        access = _first(item.values.get("access_config")).get("authentication_mode")
        version = item.values.get("version")
        issuer = _first(_first(item.values.get("identity")).get("oidc")).get("issuer")
        addons, associations = self.addons(ref)
        fargate, fargate_unsure = self.children(
            "aws_eks_fargate_profile", ref, "the cluster's Fargate profiles are unknown"
        )
        # EC2 access entries that may belong are counted as node sources (node_groups)
        entries, _ = self.children("aws_eks_access_entry", ref, None)
        return Cluster(
            arn=cluster_id,
            name=name,
            account=synthetic.ACCOUNT,
            region=synthetic.REGION,
            version=version if isinstance(version, str) else None,
            ip_family=family if family in ("ipv4", "ipv6") else None,
            oidc_issuer=issuer if isinstance(issuer, str) else None,
            auto_mode=auto if isinstance(auto, bool) else None,
            auto_mode_node_role_arn=self.block_role(
                item,
                compute.get("node_role_arn"),
                cluster_id,
                "compute_config",
                "compute_config.node_role_arn",
            ),
            authentication_mode=access if isinstance(access, str) else None,
            tags=_tags(self.known(item, "tags", cluster_id)),
            node_groups=tuple(self.node_groups(ref)),
            fargate_profiles=None
            if fargate_unsure
            else tuple(
                FargateProfile(
                    name=str(f.values.get("fargate_profile_name") or f.address),
                    pod_execution_role_arn=self.role_ref(f, "pod_execution_role_arn", cluster_id),
                    origin=f.origin,
                )
                for f in fargate
            ),
            addons=None if addons is None else tuple(addons),
            pod_identity_associations=None if associations is None else tuple(associations),
            access_entries=tuple(
                AccessEntry(
                    principal_arn=principal,
                    type=str(e.values.get("type") or "STANDARD"),
                    origin=e.origin,
                )
                for e in entries
                if (principal := self.role_ref(e, "principal_arn", cluster_id)) is not None
            ),
            origin=item.origin,
        )

    def orphans(self) -> None:
        """What belongs to no cluster of this module or cannot exist surely: a gap each."""
        for resource_type in _CHILDREN:
            for item in self.by_type[resource_type]:
                value = (
                    self.tagged_cluster(item)
                    if resource_type == "aws_autoscaling_group"
                    else item.values.get("cluster_name")
                )
                if self.placement(item, value).clusters:
                    continue
                if isinstance(value, Unknown):
                    self.gap(
                        item,
                        f"cluster_name: cannot evaluate {value.describe()}",
                        None,
                        "cluster_name",
                    )
                else:
                    self.expansion_gap(item, None, "it may not exist")
        for resource_type in _UNPLACED:
            for item in self.by_type[resource_type]:
                self.expansion_gap(item, None, "it may not exist")

    def place_role_gaps(self) -> None:
        """Role gaps go to the clusters whose objects name that role."""
        for key, gap in self.role_gaps:
            arn = self.role_arns.get(key) if key else None
            using = [c.arn for c in self.fragment.clusters if arn and arn in _arns_of(c)]
            self.fragment.gaps.extend(replace(gap, cluster=c) for c in using)
            if not using:
                self.fragment.gaps.append(gap)


_CHILDREN = (
    "aws_eks_node_group",
    "aws_eks_addon",
    "aws_eks_fargate_profile",
    "aws_eks_pod_identity_association",
    "aws_eks_access_entry",
    "aws_autoscaling_group",
)
_UNPLACED = ("aws_iam_policy", "aws_iam_instance_profile", "aws_launch_template")


def build_fragment(instances: list[ResourceInstance], problems: list[Problem]) -> IacFragment:
    mapper = _Mapper(instances)
    mapper.roles()
    mapper.oidc_providers()
    mapper.clusters()
    for problem in problems:
        mapper.fragment.gaps.append(
            Gap(
                what=WHAT,
                reason=f"{problem.address}: cannot evaluate {problem.unknown.describe()}",
                resource=problem.origin.file,
                line=problem.origin.line,
            )
        )
    return mapper.fragment
