"""IAM roles, their policies, instance profiles and OIDC providers, as the mapper reads them.

Links follow values, as AWS would: a policy attachment's ``role`` is a role's name; a role whose
name is unresolved is found by reference to its address.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.terraform.computed import qualify
from cniguard.collect.iac.terraform.mapping_base import (
    MapperBase,
    _describe,
    _document,
    _label,
    _maybe,
    _strings,
    _tags,
    _unexpanded,
)
from cniguard.collect.iac.terraform.records import ResourceInstance
from cniguard.collect.iac.terraform.values import Unknown, Value, deep_unknown
from cniguard.model.common import Origin
from cniguard.model.inventory import (
    OidcProvider,
    PolicyAttachment,
    Role,
)


class IamMapper(MapperBase):
    """Roles with their policies; role references of other resources."""

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
                    trust_policy=_document(self.role_known(item, "assume_role_policy", qualified)),
                    policies=tuple(attached),
                    permissions_boundary_arn=(
                        boundary
                        if isinstance(boundary, str)
                        else _label(boundary)
                        if isinstance(boundary, Unknown)
                        else None
                    ),
                    permissions_boundary=_document(boundary_doc),
                    tags=_tags(self.role_known(item, "tags", qualified)),
                    origin=item.origin,
                )
            )

    def role_known(self, item: ResourceInstance, key: str, qualified: str) -> Value:
        """A role attribute, or None with a gap placed with the role's other gaps."""
        value = item.values.get(key)
        found = deep_unknown(value) if not isinstance(value, Unknown) else value
        if found is None:
            return value
        self.role_gap(f"@{qualified}", item, f"{key}: cannot evaluate {found.describe()}", key)
        return None

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
