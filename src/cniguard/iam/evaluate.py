"""Effective permissions of a role for the CNI's actions.

Order of evaluation (IAM's, reduced to one principal and no SCPs): an explicit Deny in any identity
policy or the boundary wins; an action is granted when an identity policy allows it and, if the role
has a permissions boundary, the boundary allows it too. A conditioned or resource-narrowed Allow is
"scoped": granted, and shown as such. A document that could not be read makes the result unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from cniguard.iam.actions import ALL_CNI_ACTIONS, resource_space
from cniguard.iam.policy import PolicyParseError, Statement, parse_statements, resource_coverage
from cniguard.model.inventory import Role

Level = Literal["granted", "scoped", "missing", "denied", "unknown"]
_ORDER: dict[Level, int] = {"missing": 0, "scoped": 1, "granted": 2}


@dataclass(frozen=True)
class ActionGrant:
    level: Level
    allowed_by: tuple[str, ...] = ()  # policy names whose Allow matched
    denied_by: tuple[str, ...] = ()  # policy names (or "permissions boundary") that deny or cap it
    conditions: tuple[str, ...] = ()  # condition keys narrowing the allow


@dataclass(frozen=True)
class RoleGrant:
    """The CNI actions a role grants, with the policies responsible."""

    role_arn: str
    actions: dict[str, ActionGrant]
    unknown_reason: str | None = None
    notes: tuple[str, ...] = field(default=())

    def level(self, action: str) -> Level:
        grant = self.actions.get(action)
        return grant.level if grant else "unknown"

    def grants(self, actions: Iterable[str]) -> bool | None:
        """True if every action is granted (or scoped), False if one is not, None if unknown."""
        levels = [self.level(a) for a in actions]
        if any(lv in ("missing", "denied") for lv in levels):
            return False
        if any(lv == "unknown" for lv in levels):
            return None
        return True

    def granted(self, actions: Iterable[str]) -> tuple[str, ...]:
        return tuple(a for a in actions if self.level(a) in ("granted", "scoped"))

    def missing(self, actions: Iterable[str]) -> tuple[str, ...]:
        return tuple(a for a in actions if self.level(a) in ("missing", "denied"))

    def policies_granting(self, actions: Iterable[str]) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for a in actions:
            grant = self.actions.get(a)
            if grant and grant.level in ("granted", "scoped"):
                names.update(dict.fromkeys(grant.allowed_by))
        return tuple(names)


def _statements(name: str, document: object) -> tuple[Statement, ...]:
    try:
        return parse_statements(document)  # type: ignore[arg-type]
    except PolicyParseError as exc:
        raise _Unreadable(f"{name}: {exc}") from None


class _Unreadable(Exception):
    pass


def _allow_level(
    statements: list[tuple[str, Statement]], action: str
) -> tuple[Level, list[str], list[str]]:
    canonical, examples = resource_space(action)
    best: Level = "missing"
    sources: list[str] = []
    conditions: list[str] = []
    for name, st in statements:
        if st.effect != "Allow" or not st.matches_action(action):
            continue
        cov = resource_coverage(st, canonical, examples)
        if cov == "none":
            continue
        level: Level = "granted" if cov == "all" and not st.conditions else "scoped"
        sources.append(name)
        conditions.extend(c[1] for c in st.conditions)
        if _ORDER[level] > _ORDER[best]:
            best = level
    return best, sources, conditions


def _deny(statements: list[tuple[str, Statement]], action: str) -> tuple[list[str], list[str]]:
    """(policies that deny outright, policies that deny under a condition or for some resources)."""
    canonical, examples = resource_space(action)
    hard: list[str] = []
    soft: list[str] = []
    for name, st in statements:
        if st.effect != "Deny" or not st.matches_action(action):
            continue
        cov = resource_coverage(st, canonical, examples)
        if cov == "none":
            continue
        (hard if cov == "all" and not st.conditions else soft).append(name)
    return hard, soft


def evaluate_role(role: Role, actions: tuple[str, ...] = ALL_CNI_ACTIONS) -> RoleGrant:
    """The role's effective grant for ``actions`` (fail closed: unreadable means unknown)."""
    if not role.exists:
        return RoleGrant(
            role.arn,
            {a: ActionGrant("missing") for a in actions},
            notes=("the role does not exist",),
        )
    unknown: list[str] = []
    identity: list[tuple[str, Statement]] = []
    if role.policies is None:
        unknown.append("the role's policies could not be read")
    else:
        for policy in role.policies:
            if policy.document is None:
                unknown.append(f"policy {policy.name} could not be read")
                continue
            try:
                identity.extend(
                    (policy.name, st) for st in _statements(policy.name, policy.document)
                )
            except _Unreadable as exc:
                unknown.append(f"policy {exc} (unparseable)")
    boundary: list[tuple[str, Statement]] | None = None
    if role.permissions_boundary_arn or role.permissions_boundary is not None:
        if role.permissions_boundary is None:
            unknown.append(
                f"permissions boundary {role.permissions_boundary_arn} could not be read"
            )
        else:
            try:
                label = "permissions boundary"
                boundary = [(label, st) for st in _statements(label, role.permissions_boundary)]
            except _Unreadable as exc:
                unknown.append(f"{exc} (unparseable)")

    result: dict[str, ActionGrant] = {}
    for action in actions:
        level, allowed_by, conditions = _allow_level(identity, action)
        hard, soft = _deny(identity + (boundary or []), action)
        denied_by = list(hard)
        if boundary is not None and level != "missing":
            cap, _, cap_conditions = _allow_level(boundary, action)
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
        result[action] = ActionGrant(
            level=level,
            allowed_by=tuple(dict.fromkeys(allowed_by)),
            denied_by=tuple(dict.fromkeys(denied_by)),
            conditions=tuple(dict.fromkeys(conditions)),
        )
    return RoleGrant(role.arn, result, unknown_reason="; ".join(unknown) or None)
