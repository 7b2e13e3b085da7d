"""Proposed IAM/EKS changes as data, parsed from CLI flags or from CloudTrail-shaped API calls.

Every kind of change is a frozen dataclass; ``source`` says where it was read (flag, file item,
plan resource) so the impact report can point back at it. Roles may be named or given by ARN,
clusters by name or ARN: :mod:`cniguard.remediate.simulate` resolves them against the inventory.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniguard.model.codec import InputError, read_utf8
from cniguard.model.common import JsonDict

Document = JsonDict | str | None


@dataclass(frozen=True, kw_only=True)
class _Change:
    source: str = ""

    @property
    def kind(self) -> str:
        return _KINDS[type(self)]

    def to_json(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        source = body.pop("source")
        return {"kind": self.kind, **body, "source": source}


@dataclass(frozen=True)
class AttachRolePolicy(_Change):
    role: str
    policy_arn: str


@dataclass(frozen=True)
class DetachRolePolicy(_Change):
    role: str
    policy_arn: str


@dataclass(frozen=True)
class DeleteRolePolicy(_Change):
    role: str
    policy_name: str


@dataclass(frozen=True)
class PutRolePolicy(_Change):
    role: str
    policy_name: str
    document: Document


@dataclass(frozen=True)
class DeleteRole(_Change):
    role: str


@dataclass(frozen=True)
class UpdateAssumeRolePolicy(_Change):
    role: str
    document: Document


@dataclass(frozen=True)
class PutRolePermissionsBoundary(_Change):
    role: str
    policy_arn: str


@dataclass(frozen=True)
class DeleteRolePermissionsBoundary(_Change):
    role: str


@dataclass(frozen=True)
class SetPolicyDocument(_Change):
    """A managed policy's default version changes (document None: the new one is not known)."""

    policy_arn: str
    document: Document
    version: str | None = None


@dataclass(frozen=True)
class DeletePolicy(_Change):
    policy_arn: str


@dataclass(frozen=True)
class RemoveRoleFromInstanceProfile(_Change):
    instance_profile: str
    role: str


@dataclass(frozen=True)
class DeleteOidcProvider(_Change):
    provider_arn: str


@dataclass(frozen=True)
class RemoveOidcClientId(_Change):
    provider_arn: str
    client_id: str


@dataclass(frozen=True)
class SetOidcClientIds(_Change):
    provider_arn: str
    client_ids: tuple[str, ...]


@dataclass(frozen=True)
class UpdateAddon(_Change):
    """``set_role``/``set_associations`` say which of the two the update names; a role of None
    removes it; associations are (service account, role ARN) pairs and replace the add-on's."""

    cluster: str
    addon: str
    set_role: bool = False
    role_arn: str | None = None
    set_associations: bool = False
    associations: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class DeleteAddon(_Change):
    cluster: str
    addon: str
    preserve: bool = False


@dataclass(frozen=True)
class DeletePodIdentityAssociation(_Change):
    cluster: str
    association: str  # association id or ARN


@dataclass(frozen=True)
class UpdatePodIdentityAssociation(_Change):
    cluster: str
    association: str
    role_arn: str | None = None  # None: unchanged
    set_target: bool = False
    target_role_arn: str | None = None


@dataclass(frozen=True)
class DeleteAccessEntry(_Change):
    cluster: str
    principal_arn: str


Change = (
    AttachRolePolicy
    | DetachRolePolicy
    | DeleteRolePolicy
    | PutRolePolicy
    | DeleteRole
    | UpdateAssumeRolePolicy
    | PutRolePermissionsBoundary
    | DeleteRolePermissionsBoundary
    | SetPolicyDocument
    | DeletePolicy
    | RemoveRoleFromInstanceProfile
    | DeleteOidcProvider
    | RemoveOidcClientId
    | SetOidcClientIds
    | UpdateAddon
    | DeleteAddon
    | DeletePodIdentityAssociation
    | UpdatePodIdentityAssociation
    | DeleteAccessEntry
)

_KINDS: dict[type, str] = {
    AttachRolePolicy: "attach_role_policy",
    DetachRolePolicy: "detach_role_policy",
    DeleteRolePolicy: "delete_role_policy",
    PutRolePolicy: "put_role_policy",
    DeleteRole: "delete_role",
    UpdateAssumeRolePolicy: "update_assume_role_policy",
    PutRolePermissionsBoundary: "put_role_permissions_boundary",
    DeleteRolePermissionsBoundary: "delete_role_permissions_boundary",
    SetPolicyDocument: "set_policy_document",
    DeletePolicy: "delete_policy",
    RemoveRoleFromInstanceProfile: "remove_role_from_instance_profile",
    DeleteOidcProvider: "delete_oidc_provider",
    RemoveOidcClientId: "remove_oidc_client_id",
    SetOidcClientIds: "set_oidc_client_ids",
    UpdateAddon: "update_addon",
    DeleteAddon: "delete_addon",
    DeletePodIdentityAssociation: "delete_pod_identity_association",
    UpdatePodIdentityAssociation: "update_pod_identity_association",
    DeleteAccessEntry: "delete_access_entry",
}


# --- CLI flags -------------------------------------------------------------------------------


def _pair(value: str, flag: str, left: str, right: str) -> tuple[str, str]:
    """Split ``LEFT:RIGHT`` where either side may itself be an ARN (which contains colons)."""
    if value.startswith("arn:"):
        # an ARN on the left has exactly five colons before its resource part
        parts = value.split(":", 6)
        if len(parts) == 7 and parts[6]:
            head, tail = ":".join(parts[:6]), parts[6]
            return _checked(head, tail, value, flag, left, right)
        raise InputError(f"{flag} expects {left}:{right}, got {value!r}")
    head, sep, tail = value.partition(":")
    if not sep:
        raise InputError(f"{flag} expects {left}:{right}, got {value!r}")
    return _checked(head, tail, value, flag, left, right)


def _checked(head: str, tail: str, value: str, flag: str, left: str, right: str) -> tuple[str, str]:
    if not head or not tail:
        raise InputError(f"{flag} expects {left}:{right}, got {value!r}")
    if right == "POLICY_ARN" and not _is_policy_arn(tail):
        raise InputError(f"{flag}: {tail!r} is not a policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)")
    return head, tail


def _is_policy_arn(value: str) -> bool:
    parts = value.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] == "iam"
        and parts[5].startswith("policy/")
    )


def from_flags(
    *,
    detach: list[str] | None = None,
    delete_inline: list[str] | None = None,
    delete_role: list[str] | None = None,
    delete_oidc_provider: list[str] | None = None,
    put_boundary: list[str] | None = None,
    remove_from_instance_profile: list[str] | None = None,
) -> list[Change]:
    """The changes named by the CLI flags, in flag order (InputError on a malformed value)."""
    changes: list[Change] = []
    for value in detach or []:
        role, arn = _pair(value, "--detach", "ROLE", "POLICY_ARN")
        changes.append(DetachRolePolicy(role, arn, source=f"--detach {value}"))
    for value in delete_inline or []:
        role, name = _pair(value, "--delete-inline", "ROLE", "NAME")
        changes.append(DeleteRolePolicy(role, name, source=f"--delete-inline {value}"))
    for value in delete_role or []:
        if not value or (":" in value and not value.startswith("arn:")):
            raise InputError(f"--delete-role expects a role name or ARN, got {value!r}")
        changes.append(DeleteRole(value, source=f"--delete-role {value}"))
    for value in delete_oidc_provider or []:
        if ":oidc-provider/" not in value:
            raise InputError(f"--delete-oidc-provider expects an OIDC provider ARN, got {value!r}")
        changes.append(DeleteOidcProvider(value, source=f"--delete-oidc-provider {value}"))
    for value in put_boundary or []:
        role, arn = _pair(value, "--put-boundary", "ROLE", "POLICY_ARN")
        changes.append(PutRolePermissionsBoundary(role, arn, source=f"--put-boundary {value}"))
    for value in remove_from_instance_profile or []:
        profile, role = _pair(value, "--remove-from-instance-profile", "PROFILE", "ROLE")
        changes.append(
            RemoveRoleFromInstanceProfile(
                profile, role, source=f"--remove-from-instance-profile {value}"
            )
        )
    return changes


# --- CloudTrail-shaped calls -------------------------------------------------------------------


def _text(params: JsonDict, *keys: str) -> str:
    for key in keys:
        value = params.get(key)
        if isinstance(value, str) and value:
            return value
    raise KeyError(" or ".join(keys))


def _cluster(params: JsonDict) -> str:
    return _text(params, "clusterName", "name")


def _associations(value: Any) -> tuple[tuple[str, str | None], ...]:
    if not isinstance(value, list):
        raise KeyError("podIdentityAssociations (a list)")
    pairs = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("serviceAccount"), str):
            raise KeyError("podIdentityAssociations[].serviceAccount")
        role = item.get("roleArn")
        pairs.append((item["serviceAccount"], role if isinstance(role, str) else None))
    return tuple(pairs)


def _update_addon(p: JsonDict, source: str) -> Change:
    set_role = "serviceAccountRoleArn" in p
    role = p.get("serviceAccountRoleArn")
    set_assoc = "podIdentityAssociations" in p
    return UpdateAddon(
        _cluster(p),
        _text(p, "addonName"),
        set_role=set_role,
        role_arn=role if isinstance(role, str) and role else None,
        set_associations=set_assoc,
        associations=_associations(p["podIdentityAssociations"]) if set_assoc else (),
        source=source,
    )


def _update_pia(p: JsonDict, source: str) -> Change:
    role = p.get("roleArn")
    target = p.get("targetRoleArn")
    return UpdatePodIdentityAssociation(
        _cluster(p),
        _text(p, "associationId", "associationArn"),
        role_arn=role if isinstance(role, str) and role else None,
        set_target="targetRoleArn" in p,
        target_role_arn=target if isinstance(target, str) and target else None,
        source=source,
    )


def _set_policy_version(p: JsonDict, source: str) -> Change | None:
    if p.get("setAsDefault") not in (True, "true"):
        return None  # a non-default version changes nothing that is evaluated
    return SetPolicyDocument(_text(p, "policyArn"), p.get("policyDocument"), source=source)


_CALLS: dict[str, Any] = {
    "AttachRolePolicy": lambda p, s: AttachRolePolicy(
        _text(p, "roleName"), _text(p, "policyArn"), source=s
    ),
    "DetachRolePolicy": lambda p, s: DetachRolePolicy(
        _text(p, "roleName"), _text(p, "policyArn"), source=s
    ),
    "DeleteRolePolicy": lambda p, s: DeleteRolePolicy(
        _text(p, "roleName"), _text(p, "policyName"), source=s
    ),
    "PutRolePolicy": lambda p, s: PutRolePolicy(
        _text(p, "roleName"), _text(p, "policyName"), p.get("policyDocument"), source=s
    ),
    "DeleteRole": lambda p, s: DeleteRole(_text(p, "roleName"), source=s),
    "UpdateAssumeRolePolicy": lambda p, s: UpdateAssumeRolePolicy(
        _text(p, "roleName"), p.get("policyDocument"), source=s
    ),
    "PutRolePermissionsBoundary": lambda p, s: PutRolePermissionsBoundary(
        _text(p, "roleName"), _text(p, "permissionsBoundary"), source=s
    ),
    "DeleteRolePermissionsBoundary": lambda p, s: DeleteRolePermissionsBoundary(
        _text(p, "roleName"), source=s
    ),
    "CreatePolicyVersion": _set_policy_version,
    "SetDefaultPolicyVersion": lambda p, s: SetPolicyDocument(
        _text(p, "policyArn"), None, _text(p, "versionId"), source=s
    ),
    "DeletePolicy": lambda p, s: DeletePolicy(_text(p, "policyArn"), source=s),
    "RemoveRoleFromInstanceProfile": lambda p, s: RemoveRoleFromInstanceProfile(
        _text(p, "instanceProfileName"), _text(p, "roleName"), source=s
    ),
    "DeleteOpenIDConnectProvider": lambda p, s: DeleteOidcProvider(
        _text(p, "openIDConnectProviderArn"), source=s
    ),
    "RemoveClientIDFromOpenIDConnectProvider": lambda p, s: RemoveOidcClientId(
        _text(p, "openIDConnectProviderArn"), _text(p, "clientID"), source=s
    ),
    "UpdateAddon": _update_addon,
    "DeleteAddon": lambda p, s: DeleteAddon(
        _cluster(p), _text(p, "addonName"), p.get("preserve") in (True, "true"), source=s
    ),
    "DeletePodIdentityAssociation": lambda p, s: DeletePodIdentityAssociation(
        _cluster(p), _text(p, "associationId", "associationArn"), source=s
    ),
    "UpdatePodIdentityAssociation": _update_pia,
    "DeleteAccessEntry": lambda p, s: DeleteAccessEntry(
        _cluster(p), _text(p, "principalArn"), source=s
    ),
}
SUPPORTED_CALLS = tuple(_CALLS)


def from_calls(data: Any, source: str) -> list[Change]:
    """Changes from a JSON list of ``{"eventName", "requestParameters"}`` items (or a CloudTrail
    ``{"Records": [...]}`` document)."""
    if isinstance(data, dict) and isinstance(data.get("Records"), list):
        data = data["Records"]
    if not isinstance(data, list):
        raise InputError(f"{source}: expected a JSON list of API calls")
    changes: list[Change] = []
    for i, item in enumerate(data, start=1):
        where = f"{source}: call {i}"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected an object with eventName and requestParameters")
        name = item.get("eventName")
        params = item.get("requestParameters")
        if name not in _CALLS:
            raise InputError(
                f"{where}: unknown eventName {name!r} (supported: {', '.join(SUPPORTED_CALLS)})"
            )
        if not isinstance(params, dict):
            raise InputError(f"{where} ({name}): requestParameters must be an object")
        try:
            change = _CALLS[name](params, f"{source} call {i} {name}")
        except KeyError as exc:
            raise InputError(f"{where} ({name}): requestParameters lacks {exc.args[0]}") from None
        if change is not None:
            changes.append(change)
    return changes


def load_json(path: Path) -> Any:
    """A JSON file, or an InputError naming the file (and line) that is wrong."""
    text = read_utf8(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def load_calls(path: Path) -> list[Change]:
    return from_calls(load_json(path), str(path))
