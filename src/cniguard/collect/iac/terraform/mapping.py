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
from dataclasses import dataclass, field

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


def _tags(value: Value) -> dict[str, str] | None:
    if isinstance(value, dict) and not deep_unknown(value):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    return None if value is not None else {}


@dataclass
class _Mapper:
    instances: list[ResourceInstance]
    fragment: IacFragment = field(default_factory=IacFragment)
    by_type: dict[str, list[ResourceInstance]] = field(default_factory=lambda: defaultdict(list))

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

    def gap(
        self, instance: ResourceInstance, reason: str, cluster: str | None, key: str | None = None
    ) -> None:
        line = instance.attribute_lines.get(key or "", instance.origin.line)
        self.fragment.gaps.append(
            Gap(
                what=WHAT,
                reason=f"{instance.address}: {reason}",
                cluster=cluster,
                resource=instance.origin.file,
                line=line,
            )
        )

    def origin(self, instance: ResourceInstance, key: str | None = None) -> Origin:
        line = instance.attribute_lines.get(key or "") if key else None
        return Origin(source="iac", file=instance.origin.file, line=line or instance.origin.line)

    # --- IAM ---------------------------------------------------------------------------------

    def policy_documents(self) -> dict[str, Value]:
        documents: dict[str, Value] = {}
        for policy in self.by_type["aws_iam_policy"]:
            arn = policy.values.get("arn")
            if isinstance(arn, str):
                documents[arn] = policy.values.get("policy")
        return documents

    def attachment(
        self, arn: Value, origin: Origin, documents: dict[str, Value]
    ) -> PolicyAttachment:
        if not isinstance(arn, str):
            return PolicyAttachment(name="(unknown)", kind="managed", origin=origin)
        if arn in documents:
            document = documents[arn]
            return synthetic.managed_attachment(
                arn, origin, None if isinstance(document, Unknown) else _document(document)
            )
        return synthetic.managed_attachment(arn, origin)

    def role_policies(self) -> dict[str, list[PolicyAttachment]]:
        """Attachments and inline policies by role name (what the attaching resources name)."""
        documents = self.policy_documents()
        policies: dict[str, list[PolicyAttachment]] = defaultdict(list)
        for item in self.by_type["aws_iam_role_policy_attachment"]:
            role = self.known(item, "role")
            arn = self.known(item, "policy_arn")
            if isinstance(role, str):
                policies[role].append(
                    self.attachment(arn, self.origin(item, "policy_arn"), documents)
                )
        for item in self.by_type["aws_iam_policy_attachment"]:
            arn = self.known(item, "policy_arn")
            for role in _strings(self.known(item, "roles")):
                policies[role].append(
                    self.attachment(arn, self.origin(item, "policy_arn"), documents)
                )
        for item in self.by_type["aws_iam_role_policy"]:
            role = self.known(item, "role")
            document = self.known(item, "policy")
            name = item.values.get("name")
            if isinstance(role, str):
                policies[role.split(":")[0]].append(
                    PolicyAttachment(
                        name=name if isinstance(name, str) else item.address,
                        kind="inline",
                        document=_document(document),
                        origin=self.origin(item, "policy"),
                    )
                )
        return policies

    def roles(self) -> None:
        policies = self.role_policies()
        documents = self.policy_documents()
        for item in self.by_type["aws_iam_role"]:
            arn, name = item.values.get("arn"), item.values.get("name")
            if not isinstance(arn, str) or not isinstance(name, str):
                self.known(item, "name")
                name = qualify(item.scope, item.address)
                arn = synthetic.role_arn(name)
            attached = list(policies.get(name, []))
            for policy_arn in _strings(self.known(item, "managed_policy_arns")):
                attached.append(
                    self.attachment(policy_arn, self.origin(item, "managed_policy_arns"), documents)
                )
            for inline in item.values.get("inline_policy") or []:
                if isinstance(inline, dict) and inline.get("policy") is not None:
                    attached.append(
                        PolicyAttachment(
                            name=str(inline.get("name") or "inline"),
                            kind="inline",
                            document=_document(inline["policy"]),
                            origin=self.origin(item),
                        )
                    )
            boundary = self.known(item, "permissions_boundary")
            boundary_doc = documents.get(boundary) if isinstance(boundary, str) else None
            self.fragment.roles.append(
                Role(
                    arn=arn,
                    name=item.address if name == qualify(item.scope, item.address) else name,
                    account=synthetic.ACCOUNT,
                    trust_policy=_document(self.known(item, "assume_role_policy")),
                    policies=tuple(attached),
                    permissions_boundary_arn=boundary if isinstance(boundary, str) else None,
                    permissions_boundary=_document(boundary_doc),
                    tags=_tags(self.known(item, "tags")),
                    origin=item.origin,
                )
            )

    def instance_profiles(self) -> dict[str, str]:
        """Instance profile name and ARN -> role ARN."""
        role_arns = {
            r.values["name"]: r.values.get("arn")
            for r in self.by_type["aws_iam_role"]
            if isinstance(r.values.get("name"), str)
        }
        profiles: dict[str, str] = {}
        for item in self.by_type["aws_iam_instance_profile"]:
            role = self.known(item, "role")
            role_arn = role_arns.get(role) if isinstance(role, str) else None
            if not isinstance(role_arn, str) and isinstance(role, str):
                role_arn = synthetic.role_arn(role)
            if isinstance(role_arn, str):
                for key in ("name", "arn"):
                    if isinstance(item.values.get(key), str):
                        profiles[item.values[key]] = role_arn
        return profiles

    def oidc_providers(self) -> None:
        for item in self.by_type["aws_iam_openid_connect_provider"]:
            url = self.known(item, "url")
            self.fragment.oidc_providers.append(
                OidcProvider(
                    arn=str(item.values.get("arn")),
                    url=url.removeprefix("https://") if isinstance(url, str) else "",
                    client_ids=_strings(self.known(item, "client_id_list")),
                    account=synthetic.ACCOUNT,
                    origin=item.origin,
                )
            )

    # --- compute -----------------------------------------------------------------------------

    def launch_templates(self) -> dict[str, ResourceInstance]:
        templates: dict[str, ResourceInstance] = {}
        for item in self.by_type["aws_launch_template"]:
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

    def node_groups(self, cluster_name: str, cluster_id: str) -> list[NodeGroup]:
        templates = self.launch_templates()
        groups: list[NodeGroup] = []
        for item in self.by_type["aws_eks_node_group"]:
            if item.values.get("cluster_name") != cluster_name:
                continue
            role = self.known(item, "node_role_arn", cluster_id)
            ami = item.values.get("ami_type")
            groups.append(
                NodeGroup(
                    name=str(item.values.get("node_group_name") or item.address),
                    kind="managed",
                    role_arn=role if isinstance(role, str) else None,
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
            tags = [t for t in item.values.get("tag") or [] if isinstance(t, dict)]
            if not any(t.get("key") == f"kubernetes.io/cluster/{cluster_name}" for t in tags):
                continue
            template = self.template_of(item.values.get("launch_template"), templates)
            profile = _first(template.values.get("iam_instance_profile")) if template else {}
            role = next(
                (profiles[v] for v in profile.values() if isinstance(v, str) and v in profiles),
                None,
            )
            if role is None:
                self.gap(
                    item,
                    "cannot tell the node role (launch template instance profile "
                    "not found in the code)",
                    cluster_id,
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
            principal, kind = item.values.get("principal_arn"), item.values.get("type")
            if (
                item.values.get("cluster_name") != cluster_name
                or not isinstance(principal, str)
                or principal in known_roles
                or kind not in ("EC2_LINUX", "EC2_WINDOWS")
            ):
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

    # --- clusters ----------------------------------------------------------------------------

    def children(self, resource_type: str, cluster_name: str) -> list[ResourceInstance]:
        return [
            i for i in self.by_type[resource_type] if i.values.get("cluster_name") == cluster_name
        ]

    def addons(
        self, cluster_name: str, cluster_id: str
    ) -> tuple[list[Addon], list[PodIdentityAssociation]]:
        addons: list[Addon] = []
        associations: list[PodIdentityAssociation] = []
        for item in self.children("aws_eks_addon", cluster_name):
            ids = []
            for index, block in enumerate(item.values.get("pod_identity_association") or []):
                if not isinstance(block, dict):
                    continue
                association_id = (
                    f"tf:{qualify(item.scope, item.address)}.pod_identity_association[{index}]"
                )
                role = block.get("role_arn")
                ids.append(association_id)
                associations.append(
                    PodIdentityAssociation(
                        arn=association_id,
                        namespace="kube-system",
                        service_account=str(block.get("service_account")),
                        role_arn=role if isinstance(role, str) else None,
                        origin=self.origin(item, "pod_identity_association"),
                    )
                )
            role = self.known(item, "service_account_role_arn", cluster_id)
            config = self.known(item, "configuration_values", cluster_id)
            version = item.values.get("addon_version")
            addons.append(
                Addon(
                    name=str(item.values.get("addon_name")),
                    version=version if isinstance(version, str) else None,
                    service_account_role_arn=role if isinstance(role, str) else None,
                    pod_identity_association_arns=tuple(ids),
                    configuration_values=config if isinstance(config, str) else None,
                    origin=item.origin,
                )
            )
        for item in self.children("aws_eks_pod_identity_association", cluster_name):
            role = self.known(item, "role_arn", cluster_id)
            target = item.values.get("target_role_arn")
            associations.append(
                PodIdentityAssociation(
                    arn=str(item.values.get("association_arn")),
                    namespace=str(self.known(item, "namespace", cluster_id)),
                    service_account=str(self.known(item, "service_account", cluster_id)),
                    role_arn=role if isinstance(role, str) else None,
                    target_role_arn=target if isinstance(target, str) else None,
                    origin=item.origin,
                )
            )
        return addons, associations

    def clusters(self) -> None:
        names = set()
        for item in self.by_type["aws_eks_cluster"]:
            cluster_id = f"tf:{qualify(item.scope, item.address)}"
            name = self.known(item, "name", cluster_id)
            if not isinstance(name, str):
                continue
            names.add(name)
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
            auto = compute.get("enabled", False) is True
            auto_role = compute.get("node_role_arn")
            access = _first(item.values.get("access_config")).get("authentication_mode")
            version = item.values.get("version")
            addons, associations = self.addons(name, cluster_id)
            self.fragment.clusters.append(
                Cluster(
                    arn=cluster_id,
                    name=name,
                    account=synthetic.ACCOUNT,
                    region=synthetic.REGION,
                    version=version if isinstance(version, str) else None,
                    ip_family=family if family in ("ipv4", "ipv6") else None,
                    oidc_issuer=str(item.values["identity"][0]["oidc"][0]["issuer"]),
                    auto_mode=auto,
                    auto_mode_node_role_arn=auto_role if isinstance(auto_role, str) else None,
                    authentication_mode=access if isinstance(access, str) else None,
                    tags=_tags(self.known(item, "tags", cluster_id)),
                    node_groups=tuple(self.node_groups(name, cluster_id)),
                    fargate_profiles=tuple(
                        FargateProfile(
                            name=str(f.values.get("fargate_profile_name") or f.address),
                            pod_execution_role_arn=self.known(
                                f, "pod_execution_role_arn", cluster_id
                            ),
                            origin=f.origin,
                        )
                        for f in self.children("aws_eks_fargate_profile", name)
                    ),
                    addons=tuple(addons),
                    pod_identity_associations=tuple(associations),
                    access_entries=tuple(
                        AccessEntry(
                            principal_arn=str(e.values.get("principal_arn")),
                            type=str(e.values.get("type") or "STANDARD"),
                            origin=e.origin,
                        )
                        for e in self.children("aws_eks_access_entry", name)
                    ),
                    origin=item.origin,
                )
            )
        self.orphans(names)

    def orphans(self, names: set[str]) -> None:
        """Cluster children whose cluster could not be told: a gap each, never silence."""
        for resource_type in (
            "aws_eks_node_group",
            "aws_eks_addon",
            "aws_eks_fargate_profile",
            "aws_eks_pod_identity_association",
            "aws_eks_access_entry",
        ):
            for item in self.by_type[resource_type]:
                value = item.values.get("cluster_name")
                if isinstance(value, Unknown):
                    self.gap(
                        item,
                        f"cluster_name: cannot evaluate {value.describe()}",
                        None,
                        "cluster_name",
                    )


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
