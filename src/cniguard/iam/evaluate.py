"""Effective permissions of a role for the CNI's actions.

Order of evaluation (IAM's, reduced to one principal and no SCPs): an explicit Deny in any identity
policy or the boundary wins; an action is granted when an identity policy allows it and, if the role
has a permissions boundary, the boundary allows it too. A conditioned or resource-narrowed Allow is
"scoped": granted, and shown as such. A document that could not be read makes the result unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from cniguard.iam.actions import ALL_CNI_ACTIONS, resource_types
from cniguard.iam.policy import (
    PolicyParseError,
    check_identity_statements,
    parse_statements,
    type_coverage,
)
from cniguard.model.inventory import Role

Level = Literal["granted", "scoped", "missing", "denied", "unknown"]
_ORDER: dict[Level, int] = {"missing": 0, "scoped": 1, "granted": 2}


@dataclass(frozen=True)
class ActionGrant:
    level: Level
    allowed_by: tuple[str, ...] = ()  # policy names whose Allow matched
    denied_by: tuple[str, ...] = ()  # policy names (or "permissions boundary") that deny or cap it
    conditions: tuple[str, ...] = ()  # condition keys narrowing the allow


_MISSING = ActionGrant("missing")


@dataclass(frozen=True)
class RoleGrant:
    """The CNI actions a role grants, with the policies responsible."""

    role_arn: str
    actions: dict[str, ActionGrant]
    unknown_reason: str | None = None
    notes: tuple[str, ...] = field(default=())
    # answers to grants/granted/missing by action set; shared by roles with the same documents
    memo: dict[tuple[str, tuple[str, ...]], object] = field(
        default_factory=dict, compare=False, repr=False
    )

    def level(self, action: str) -> Level:
        grant = self.actions.get(action)
        return grant.level if grant else "unknown"

    def grants(self, actions: Iterable[str]) -> bool | None:
        """True if every action is granted (or scoped), False if one is not, None if unknown."""
        key = ("grants", tuple(actions))
        if key not in self.memo:
            levels = [self.level(a) for a in key[1]]
            if any(lv in ("missing", "denied") for lv in levels):
                self.memo[key] = False
            else:
                self.memo[key] = None if any(lv == "unknown" for lv in levels) else True
        return self.memo[key]  # type: ignore[return-value]

    def granted(self, actions: Iterable[str]) -> tuple[str, ...]:
        return self._select("granted", tuple(actions), ("granted", "scoped"))

    def missing(self, actions: Iterable[str]) -> tuple[str, ...]:
        return self._select("missing", tuple(actions), ("missing", "denied"))

    def _select(
        self, kind: str, actions: tuple[str, ...], levels: tuple[str, ...]
    ) -> tuple[str, ...]:
        key = (kind, actions)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = tuple(a for a in actions if self.level(a) in levels)
        return found  # type: ignore[return-value]

    def policies_granting(self, actions: Iterable[str]) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for a in actions:
            grant = self.actions.get(a)
            if grant and grant.level in ("granted", "scoped"):
                names.update(dict.fromkeys(grant.allowed_by))
        return tuple(names)


@dataclass(frozen=True)
class DocumentGrant:
    """What one policy document says about each action. Shared by every role that attaches the
    same document (the managed CNI policy is attached to thousands of roles in an Organization)."""

    allow: dict[str, tuple[Level, tuple[str, ...]]]  # action -> (level, condition keys)
    hard_deny: frozenset[str]  # denied outright
    soft_deny: frozenset[str]  # denied under a condition or for some resources


def document_grant(
    document: object,
    actions: tuple[str, ...],
    region: str | None = None,
    account: str | None = None,
) -> DocumentGrant:
    """Evaluate one document for ``actions`` on resources in ``region``/``account`` (None: not
    known, so a pattern pinned to one is "scoped"). Raises PolicyParseError for a non-policy.

    An ENI call needs every resource type it is authorized on (CreateNetworkInterface: the ENI,
    the subnet and the security group), so an Allow must cover all of them (possibly across
    statements), and a Deny of any one of them denies the call.
    """
    statements = parse_statements(document)  # type: ignore[arg-type]
    check_identity_statements(statements)
    allow: dict[str, tuple[Level, tuple[str, ...]]] = {}
    hard: set[str] = set()
    soft: set[str] = set()
    for action in actions:
        types = resource_types(action)
        best: dict[str, Level] = dict.fromkeys(types, "missing")
        conditions: list[str] = []
        for st in statements:
            if not st.matches_action(action):
                continue
            covers = {t: type_coverage(st, t, region, account) for t in types}
            if st.effect == "Deny":
                if not st.conditions and "all" in covers.values():
                    hard.add(action)
                elif any(c != "none" for c in covers.values()):
                    soft.add(action)
                continue
            used = False
            for t, cov in covers.items():
                if cov == "none":
                    continue
                used = True
                level: Level = "granted" if cov == "all" and not st.conditions else "scoped"
                if _ORDER[level] > _ORDER[best[t]]:
                    best[t] = level
            if used:
                conditions.extend(c[1] for c in st.conditions)
        overall = min(best.values(), key=_ORDER.__getitem__)
        allow[action] = (overall, tuple(conditions) if overall != "missing" else ())
    return DocumentGrant(allow, frozenset(hard), frozenset(soft))


class DocumentCache:
    """Document evaluations of one run, keyed by the document's canonical text."""

    def __init__(self) -> None:
        self._done: dict[tuple[object, ...], DocumentGrant | str] = {}

        # role-level results keyed by (policy names and document keys, boundary key)
        self.roles: dict[tuple[object, ...], RoleGrant] = {}

    @staticmethod
    def key(document: object, arn: str | None = None, version: str | None = None) -> str:
        """A managed policy version is one document; anything else is keyed by its content."""
        if arn and version:
            return f"{arn}@{version}"
        if isinstance(document, str):
            return document
        return json.dumps(document, sort_keys=True, default=str)

    def get(
        self,
        document: object,
        actions: tuple[str, ...],
        key: str | None = None,
        where: tuple[str | None, str | None] = (None, None),
    ) -> DocumentGrant:
        key_ = (key or self.key(document), actions, where)
        found = self._done.get(key_)
        if found is None:
            try:
                found = document_grant(document, actions, *where)
            except PolicyParseError as exc:
                found = str(exc)
            self._done[key_] = found
        if isinstance(found, str):
            raise PolicyParseError(found)
        return found


def evaluate_role(
    role: Role,
    actions: tuple[str, ...] = ALL_CNI_ACTIONS,
    cache: DocumentCache | None = None,
    region: str | None = None,
) -> RoleGrant:
    """The role's effective grant for ``actions`` on resources of its own account in ``region``
    (fail closed: unreadable means unknown)."""
    if not role.exists:
        return RoleGrant(
            role.arn,
            {a: ActionGrant("missing") for a in actions},
            notes=("the role does not exist",),
        )
    cache = cache or DocumentCache()
    where = (region, role.account or None)
    role_key = (*_role_key(role, actions, cache), where)
    cached = cache.roles.get(role_key)
    if cached is not None:
        return RoleGrant(role.arn, cached.actions, cached.unknown_reason, cached.notes, cached.memo)
    grant = _evaluate(role, actions, cache, where)
    cache.roles[role_key] = grant
    return grant


def _role_key(role: Role, actions: tuple[str, ...], cache: DocumentCache) -> tuple[object, ...]:
    policies = None
    if role.policies is not None:
        policies = tuple(
            (p.name, None if p.document is None else cache.key(p.document, p.arn, p.version))
            for p in role.policies
        )
    boundary = None
    if role.permissions_boundary is not None:
        boundary = cache.key(role.permissions_boundary)
    return (actions, policies, role.permissions_boundary_arn, boundary)


def _evaluate(
    role: Role,
    actions: tuple[str, ...],
    cache: DocumentCache,
    where: tuple[str | None, str | None],
) -> RoleGrant:
    unknown: list[str] = []
    identity: list[tuple[str, DocumentGrant]] = []
    if role.policies is None:
        unknown.append("the role's policies could not be read")
    else:
        for policy in role.policies:
            if policy.document is None:
                unknown.append(f"policy {policy.name} could not be read")
                continue
            try:
                key = cache.key(policy.document, policy.arn, policy.version)
                identity.append((policy.name, cache.get(policy.document, actions, key, where)))
            except PolicyParseError as exc:
                unknown.append(f"policy {policy.name}: {exc} (unparseable)")
    boundary: DocumentGrant | None = None
    if role.permissions_boundary_arn or role.permissions_boundary is not None:
        if role.permissions_boundary is None:
            unknown.append(
                f"permissions boundary {role.permissions_boundary_arn} could not be read"
            )
        else:
            try:
                boundary = cache.get(role.permissions_boundary, actions, where=where)
            except PolicyParseError as exc:
                unknown.append(f"permissions boundary: {exc} (unparseable)")
    denying = [*identity, *([("permissions boundary", boundary)] if boundary else [])]

    result: dict[str, ActionGrant] = {}
    for action in actions:
        level: Level = "missing"
        allowed_by: list[str] = []
        conditions: list[str] = []
        for name, doc in identity:
            doc_level, doc_conditions = doc.allow[action]
            if doc_level == "missing":
                continue
            allowed_by.append(name)
            conditions.extend(doc_conditions)
            if _ORDER[doc_level] > _ORDER[level]:
                level = doc_level
        hard = [name for name, doc in denying if action in doc.hard_deny]
        soft = [name for name, doc in denying if action in doc.soft_deny]
        denied_by = list(hard)
        if boundary is not None and level != "missing":
            cap, cap_conditions = boundary.allow[action]
            if cap == "missing":
                denied_by.append("permissions boundary")
                level = "denied"
            elif cap == "scoped":
                level = "scoped"
                conditions.extend(cap_conditions)
        if hard:
            level = "denied"
        elif soft and level == "granted":
            level = "scoped"
            denied_by.extend(soft)
        if unknown and level != "denied":
            level = "unknown"
        if level == "missing" and not denied_by:
            result[action] = _MISSING
            continue
        result[action] = ActionGrant(
            level=level,
            allowed_by=tuple(dict.fromkeys(allowed_by)),
            denied_by=tuple(dict.fromkeys(denied_by)),
            conditions=tuple(dict.fromkeys(conditions)),
        )
    return RoleGrant(role.arn, result, unknown_reason="; ".join(unknown) or None)
