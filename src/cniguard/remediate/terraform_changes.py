"""Changes from a Terraform plan (``terraform show -json plan.out``): its ``resource_changes``.

A replace is a destroy and a create. Whatever the order (``create_before_destroy`` or not), the
cluster lives through the state where the old object is gone: for an attachment replaced by an
identical one with create-before-destroy that is even the final state (the new attachment is a
no-op in IAM, the destroy then detaches the policy). So a replace is judged as its destroy.
Creates of new roles are not modelled (a role the plan creates is unknown to the inventory, which
makes a cluster bound to it ``unknown``); creates of attachments and inline policies are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cniguard.model.codec import InputError
from cniguard.remediate.changes import (
    AttachRolePolicy,
    Change,
    DeleteAccessEntry,
    DeleteAddon,
    DeleteOidcProvider,
    DeletePodIdentityAssociation,
    DeletePolicy,
    DeleteRole,
    DeleteRolePermissionsBoundary,
    DeleteRolePolicy,
    DetachRolePolicy,
    PutRolePermissionsBoundary,
    PutRolePolicy,
    RemoveRoleFromInstanceProfile,
    SetOidcClientIds,
    SetPolicyDocument,
    UpdateAddon,
    UpdateAssumeRolePolicy,
    UpdatePodIdentityAssociation,
)

KNOWN_AFTER_APPLY = "(known after apply)"  # not an ARN in any inventory: judged as unread


class _Values:
    """One side of a resource change, with Terraform's "known after apply" markers."""

    def __init__(self, values: Any, unknown: Any = None) -> None:
        self.values = values if isinstance(values, dict) else {}
        self.unknown = unknown if isinstance(unknown, dict) else {}

    def text(self, key: str) -> str | None:
        if self.unknown.get(key) is True:
            return KNOWN_AFTER_APPLY
        value = self.values.get(key)
        return value if isinstance(value, str) and value else None

    def document(self, key: str) -> str | None:
        """A JSON policy document (None when Terraform computes it during apply)."""
        if self.unknown.get(key) is True:
            return None
        value = self.values.get(key)
        return value if isinstance(value, str) and value else None

    def strings(self, key: str) -> set[str]:
        value = self.values.get(key)
        return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()

    def blocks(self, key: str) -> list[dict[str, Any]]:
        value = self.values.get(key)
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _need(value: str | None, what: str, source: str) -> str:
    if value is None:
        raise InputError(f"{source}: the plan gives no {what}")
    return value


def _destroy(kind: str, b: _Values, s: str) -> Iterator[Change]:
    if kind == "aws_iam_role_policy_attachment":
        yield DetachRolePolicy(
            _need(b.text("role"), "role", s), _need(b.text("policy_arn"), "policy_arn", s), source=s
        )
    elif kind == "aws_iam_role_policy":
        yield DeleteRolePolicy(
            _need(b.text("role"), "role", s), _need(b.text("name"), "name", s), source=s
        )
    elif kind == "aws_iam_role":
        yield DeleteRole(_need(b.text("arn") or b.text("name"), "role name", s), source=s)
    elif kind == "aws_iam_policy":
        yield DeletePolicy(_need(b.text("arn"), "arn", s), source=s)
    elif kind == "aws_iam_openid_connect_provider":
        yield DeleteOidcProvider(_need(b.text("arn"), "arn", s), source=s)
    elif kind == "aws_eks_addon":
        yield DeleteAddon(
            _need(b.text("cluster_name"), "cluster_name", s),
            _need(b.text("addon_name"), "addon_name", s),
            preserve=b.values.get("preserve") is True,
            source=s,
        )
    elif kind == "aws_eks_pod_identity_association":
        yield DeletePodIdentityAssociation(
            _need(b.text("cluster_name"), "cluster_name", s),
            _need(b.text("association_arn") or b.text("association_id"), "association id", s),
            source=s,
        )
    elif kind == "aws_eks_access_entry":
        yield DeleteAccessEntry(
            _need(b.text("cluster_name"), "cluster_name", s),
            _need(b.text("principal_arn"), "principal_arn", s),
            source=s,
        )
    elif kind == "aws_iam_instance_profile" and b.text("role"):
        yield RemoveRoleFromInstanceProfile(
            _need(b.text("name"), "name", s), _need(b.text("role"), "role", s), source=s
        )


def _create(kind: str, a: _Values, s: str) -> Iterator[Change]:
    if kind == "aws_iam_role_policy_attachment":
        yield AttachRolePolicy(
            _need(a.text("role"), "role", s), _need(a.text("policy_arn"), "policy_arn", s), source=s
        )
    elif kind == "aws_iam_role_policy":
        yield PutRolePolicy(
            _need(a.text("role"), "role", s),
            _need(a.text("name"), "name", s),
            a.document("policy"),
            source=s,
        )


def _role_update(b: _Values, a: _Values, s: str) -> Iterator[Change]:
    role = _need(b.text("arn") or b.text("name"), "role name", s)
    if a.document("assume_role_policy") != b.document("assume_role_policy"):
        yield UpdateAssumeRolePolicy(role, a.document("assume_role_policy"), source=s)
    if a.text("permissions_boundary") != b.text("permissions_boundary"):
        boundary = a.text("permissions_boundary")
        if boundary is None:
            yield DeleteRolePermissionsBoundary(role, source=s)
        else:
            yield PutRolePermissionsBoundary(role, boundary, source=s)
    if "managed_policy_arns" in a.values or a.unknown.get("managed_policy_arns"):
        for arn in sorted(b.strings("managed_policy_arns") - a.strings("managed_policy_arns")):
            yield DetachRolePolicy(role, arn, source=s)
    if "inline_policy" in a.values:
        after = {p.get("name"): p.get("policy") for p in a.blocks("inline_policy")}
        for block in b.blocks("inline_policy"):
            name = block.get("name")
            if not isinstance(name, str) or not name:
                continue
            if name not in after:
                yield DeleteRolePolicy(role, name, source=s)
            elif after[name] != block.get("policy"):
                yield PutRolePolicy(role, name, after[name], source=s)


def _update(kind: str, b: _Values, a: _Values, s: str) -> Iterator[Change]:
    if kind == "aws_iam_role":
        yield from _role_update(b, a, s)
    elif kind == "aws_iam_policy" and a.document("policy") != b.document("policy"):
        yield SetPolicyDocument(_need(b.text("arn"), "arn", s), a.document("policy"), source=s)
    elif kind == "aws_iam_role_policy" and a.document("policy") != b.document("policy"):
        yield PutRolePolicy(
            _need(b.text("role"), "role", s),
            _need(b.text("name"), "name", s),
            a.document("policy"),
            source=s,
        )
    elif kind == "aws_iam_role_policy_attachments_exclusive":
        role = _need(b.text("role_name"), "role_name", s)
        for arn in sorted(b.strings("policy_arns") - a.strings("policy_arns")):
            yield DetachRolePolicy(role, arn, source=s)
    elif kind == "aws_iam_openid_connect_provider":
        if b.strings("client_id_list") != a.strings("client_id_list"):
            ids = tuple(sorted(a.strings("client_id_list")))
            yield SetOidcClientIds(_need(b.text("arn"), "arn", s), ids, source=s)
    elif kind == "aws_eks_addon":
        yield from _addon_update(b, a, s)
    elif kind == "aws_eks_pod_identity_association":
        new_role, target = a.text("role_arn"), a.text("target_role_arn")
        if new_role != b.text("role_arn") or target != b.text("target_role_arn"):
            yield UpdatePodIdentityAssociation(
                _need(b.text("cluster_name"), "cluster_name", s),
                _need(b.text("association_arn") or b.text("association_id"), "association id", s),
                role_arn=new_role,
                set_target=target != b.text("target_role_arn"),
                target_role_arn=target,
                source=s,
            )
    elif kind == "aws_iam_instance_profile" and b.text("role") != a.text("role"):
        yield from _destroy(kind, b, s)


def _addon_update(b: _Values, a: _Values, s: str) -> Iterator[Change]:
    role_changed = a.text("service_account_role_arn") != b.text("service_account_role_arn")
    pairs = [
        (p.get("service_account"), p.get("role_arn")) for p in a.blocks("pod_identity_association")
    ]
    before = [
        (p.get("service_account"), p.get("role_arn")) for p in b.blocks("pod_identity_association")
    ]
    assoc_changed = pairs != before or bool(a.unknown.get("pod_identity_association"))
    if role_changed or assoc_changed:
        yield UpdateAddon(
            _need(b.text("cluster_name"), "cluster_name", s),
            _need(b.text("addon_name"), "addon_name", s),
            set_role=role_changed,
            role_arn=a.text("service_account_role_arn"),
            set_associations=assoc_changed,
            associations=tuple(
                (sa, role if isinstance(role, str) else KNOWN_AFTER_APPLY)
                for sa, role in pairs
                if isinstance(sa, str)
            ),
            source=s,
        )


def from_plan(data: Any, source: str) -> list[Change]:
    """The changes of a plan JSON document (InputError when it is not one)."""
    if not isinstance(data, dict) or not isinstance(data.get("resource_changes", []), list):
        raise InputError(f"{source}: not a Terraform plan JSON (terraform show -json plan.out)")
    if "resource_changes" not in data and "format_version" not in data:
        raise InputError(f"{source}: not a Terraform plan JSON (no resource_changes)")
    changes: list[Change] = []
    for rc in data.get("resource_changes", []):
        if not isinstance(rc, dict) or not isinstance(rc.get("change"), dict):
            raise InputError(f"{source}: a resource_changes item has no change object")
        kind = str(rc.get("type", ""))
        change = rc["change"]
        actions = change.get("actions")
        if not isinstance(actions, list):
            raise InputError(f"{source}: {rc.get('address')}: change.actions is not a list")
        before = _Values(change.get("before"))
        after = _Values(change.get("after"), change.get("after_unknown"))
        where = f"{source}: {rc.get('address', kind)}"
        if "delete" in actions:  # delete, or a replace in either order
            label = where if actions == ["delete"] else f"{where} (replace: judged as its destroy)"
            changes.extend(_destroy(kind, before, label))
        elif actions == ["update"]:
            changes.extend(_update(kind, before, after, where))
        elif actions == ["create"]:
            changes.extend(_create(kind, after, where))
    return changes
