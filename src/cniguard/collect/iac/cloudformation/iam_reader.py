"""Reading a template's IAM resources (roles, policies, instance profiles, OIDC providers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.cloudformation.assembly import Assembly, RoleDraft
from cniguard.collect.iac.cloudformation.intrinsics import Undecided, alternatives, unresolved
from cniguard.collect.iac.cloudformation.template import Template
from cniguard.collect.iac.cloudformation.values import policy_document, tag_map, text_value
from cniguard.model.inventory import Gap, OidcProvider, PolicyAttachment


class IamReader:
    """Reads one template's IAM resources into the assembly (the EKS reader builds on it)."""

    def __init__(self, template: Template, out: Assembly) -> None:
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
        draft = RoleDraft(arn=synthetic.role_arn(name), name=name, origin=t.origin(logical_id))
        trust, problem = policy_document(t.prop(logical_id, "AssumeRolePolicyDocument"))
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
                document, problem = policy_document(policy.get("PolicyDocument"))
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
        draft.tags = tag_map(t.prop(logical_id, "Tags")) or {}
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
        document, problem = policy_document(self.t.prop(logical_id, "PolicyDocument"))
        if problem:
            self.gap("iac:policy", problem, logical_id)
        name = text_value(self.t.prop(logical_id, "PolicyName")) or logical_id
        self._attach_to_roles(
            logical_id,
            "Roles",
            PolicyAttachment(
                name=name, kind="inline", document=document, origin=self.t.origin(logical_id)
            ),
        )

    def role_policy(self, logical_id: str) -> None:
        document, problem = policy_document(self.t.prop(logical_id, "PolicyDocument"))
        if problem:
            self.gap("iac:policy", problem, logical_id)
        self._attach_to_roles(
            logical_id,
            "RoleName",
            PolicyAttachment(
                name=text_value(self.t.prop(logical_id, "PolicyName")) or logical_id,
                kind="inline",
                document=document,
                origin=self.t.origin(logical_id),
            ),
        )

    def managed_policy(self, logical_id: str) -> None:
        document, problem = policy_document(self.t.prop(logical_id, "PolicyDocument"))
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
