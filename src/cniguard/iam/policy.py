"""IAM policy documents as data: normalised statements and wildcard matching.

Documents arrive as dicts (boto3 parses them) or as JSON strings, possibly URL-encoded (raw API,
CLI text output, CloudTrail, IaC). Statements are normalised once so evaluation never branches on
the document's spelling.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Literal

Effect = Literal["Allow", "Deny"]


class PolicyParseError(ValueError):
    """A policy document that is not valid JSON or not shaped like an IAM policy."""


@dataclass(frozen=True)
class Statement:
    effect: Effect
    actions: tuple[str, ...] = ()  # lower-cased
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)
    principals: tuple[tuple[str, str], ...] = ()  # (type, value): ("AWS", "arn:..."), ("*", "*")
    not_principals: tuple[tuple[str, str], ...] = ()
    sid: str | None = None

    def matches_action(self, action: str) -> bool:
        name = action.lower()
        if self.not_actions:
            return not any(_match(p, name) for p in self.not_actions)
        return any(_match(p, name) for p in self.actions)

    def condition_values(self, key_suffix: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """Conditions whose key ends with ``key_suffix`` (case-insensitive), e.g. ``:sub``."""
        suffix = key_suffix.lower()
        return [c for c in self.conditions if c[1].lower().endswith(suffix)]


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    import fnmatch

    return re.compile(fnmatch.translate(pattern.replace("[", "[[]")))


def _match(pattern: str, value: str) -> bool:
    """IAM wildcard match: ``*`` any run, ``?`` one character; no character classes."""
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern == value
    return _compiled(pattern).match(value) is not None


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Public wildcard matcher (ARNs are case-sensitive, action names are not)."""
    if not case_sensitive:
        return _match(pattern.lower(), value.lower())
    return _match(pattern, value) if "[" not in pattern else fnmatchcase(value, pattern)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def decode_document(document: Mapping[str, Any] | str) -> dict[str, Any]:
    """A policy as a dict, from a dict, a JSON string, or a URL-encoded JSON string."""
    if isinstance(document, Mapping):
        return dict(document)
    if not isinstance(document, str):
        raise PolicyParseError(f"policy document is a {type(document).__name__}, not an object")
    text = document.strip()
    if text.startswith(("%7B", "%7b")):
        text = urllib.parse.unquote(text)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyParseError(f"policy document is not valid JSON: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise PolicyParseError("policy document is not a JSON object")
    return parsed


def _principals(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if raw == "*":
        return (("*", "*"),)
    if not isinstance(raw, Mapping):
        raise PolicyParseError("Principal must be '*' or an object")
    out: list[tuple[str, str]] = []
    for kind, values in raw.items():
        out.extend((str(kind), str(v)) for v in _as_list(values))
    return tuple(out)


def _conditions(raw: Any) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise PolicyParseError("Condition must be an object")
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for operator, block in raw.items():
        if not isinstance(block, Mapping):
            raise PolicyParseError(f"Condition operator {operator} must map keys to values")
        for key, values in block.items():
            out.append((str(operator), str(key), tuple(str(v) for v in _as_list(values))))
    return tuple(out)


def parse_statements(document: Mapping[str, Any] | str) -> tuple[Statement, ...]:
    """Normalise a policy (identity, boundary or trust) into statements."""
    doc = decode_document(document)
    statements: list[Statement] = []
    for raw in _as_list(doc.get("Statement")):
        if not isinstance(raw, Mapping):
            raise PolicyParseError("Statement entries must be objects")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyParseError(f"Statement Effect must be Allow or Deny, not {effect!r}")
        statements.append(
            Statement(
                effect=effect,
                actions=tuple(str(a).lower() for a in _as_list(raw.get("Action"))),
                not_actions=tuple(str(a).lower() for a in _as_list(raw.get("NotAction"))),
                resources=tuple(str(r) for r in _as_list(raw.get("Resource"))),
                not_resources=tuple(str(r) for r in _as_list(raw.get("NotResource"))),
                conditions=_conditions(raw.get("Condition")),
                principals=_principals(raw.get("Principal")),
                not_principals=_principals(raw.get("NotPrincipal")),
                sid=str(raw["Sid"]) if raw.get("Sid") is not None else None,
            )
        )
    return tuple(statements)


def check_identity_statements(statements: tuple[Statement, ...]) -> None:
    """Raise PolicyParseError for a statement IAM rejects in an identity policy or boundary.

    IAM never stores such a policy, so one seen here (IaC, a hand-written inventory) will not
    deploy as written: ignoring the statement could hide a Deny, so the policy is unreadable.
    """
    for number, st in enumerate(statements, 1):
        name = f"statement {st.sid or number}"
        if not st.actions and not st.not_actions:
            raise PolicyParseError(f"{name} has no Action or NotAction; IAM rejects it")
        if st.actions and st.not_actions:
            raise PolicyParseError(f"{name} has both Action and NotAction; IAM rejects it")
        if not st.resources and not st.not_resources:
            raise PolicyParseError(f"{name} has no Resource or NotResource; IAM rejects it")
        if st.resources and st.not_resources:
            raise PolicyParseError(f"{name} has both Resource and NotResource; IAM rejects it")


PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
Coverage = Literal["all", "scoped", "none"]


def arn_coverage(pattern: str, rtype: str, region: str | None, account: str | None) -> Coverage:
    """How a Resource pattern covers EC2 resources of ``rtype`` in ``region``/``account``.

    "all": every such resource there; "scoped": only some, or the pattern pins a region/account
    this evaluation does not know; "none": none of them.
    """
    if pattern == "*":
        return "all"
    parts = pattern.split(":", 5)
    if len(parts) != 6:  # "arn:*" and other short wildcards
        example = f"arn:aws:ec2:{region or 'us-east-1'}:{account or '111122223333'}:{rtype}/x"
        return "all" if _match(pattern, example) else "none"
    _, partition, service, pat_region, pat_account, resource = parts
    if not any(_match(partition, p) for p in PARTITIONS) or not _match(service.lower(), "ec2"):
        return "none"
    if not (_match(resource, f"{rtype}/x") and _match(resource, f"{rtype}/y")):
        # names specific resources of the type (or none): some at most
        return "scoped" if resource.startswith(f"{rtype}/") else "none"
    level: Coverage = "all"
    for field, actual in ((pat_region, region), (pat_account, account)):
        if field == "*":
            continue
        if actual is None:
            level = "scoped"
        elif not _match(field, actual):
            return "none"
    return level


def type_coverage(
    statement: Statement, rtype: str, region: str | None = None, account: str | None = None
) -> Coverage:
    """How much of ``rtype`` (an EC2 resource type, or "*" for calls without resource-level
    permissions) the statement's Resource / NotResource names."""
    if rtype == "*":
        if statement.not_resources:
            return "none" if "*" in statement.not_resources else "all"
        return "all" if "*" in statement.resources else "none"
    if statement.not_resources:
        excluded = [arn_coverage(p, rtype, region, account) for p in statement.not_resources]
        if "all" in excluded:
            return "none"
        return "scoped" if "scoped" in excluded else "all"
    levels = [arn_coverage(p, rtype, region, account) for p in statement.resources]
    if "all" in levels:
        return "all"
    return "scoped" if "scoped" in levels else "none"
