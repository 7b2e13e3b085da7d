"""User configuration (``cniguard.toml``): required tags, production, severities, suppressions.

Example::

    required_tags = ["owner", "cost-center", "environment"]

    [production]
    tag_key = "environment"
    values = ["prod", "production"]

    [severity]
    CNI020 = "medium"

    [thresholds]
    stuck_pod_minutes = 10

    [[suppressions]]
    rule = "CNI011"
    resource = "arn:aws:eks:*:111122223333:cluster/sandbox-*"
    reason = "sandbox clusters run no IRSA"
    expires = 2027-01-31

    [cost]                     # FinOps figures (docs/finops.md; cniguard/cost/settings.py)
    engineer_hourly_rate = 95.0
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cniguard.cost.settings import CostConfig, parse_cost
from cniguard.model.codec import InputError, read_utf8
from cniguard.model.finding import SEVERITIES, Severity

DEFAULT_REQUIRED_TAGS = ("owner", "cost-center", "environment")


@dataclass(frozen=True)
class Suppression:
    rule: str  # rule id or glob ("CNI02*")
    resource: str  # glob over the finding's resource and cluster
    reason: str
    expires: dt.date | None = None


@dataclass(frozen=True)
class Config:
    required_tags: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    production_tag_key: str = "environment"
    production_values: tuple[str, ...] = ("prod", "production", "prd")
    severity_overrides: dict[str, Severity] = field(default_factory=dict)
    suppressions: tuple[Suppression, ...] = ()
    stuck_pod_minutes: int = 10
    today: dt.date | None = None  # fixed date for reproducible runs (demo, tests); None = today
    cost: CostConfig = field(default_factory=CostConfig)  # [cost]: see cost/settings.py

    def is_production(self, tags: dict[str, str] | None) -> bool:
        if not tags:
            return False
        value = tags.get(self.production_tag_key)
        return value is not None and value.strip().lower() in {
            v.lower() for v in self.production_values
        }

    def current_date(self) -> dt.date:
        return self.today or dt.datetime.now(dt.UTC).date()


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: expected a list of strings")
    return tuple(value)


def _table(data: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{source}: [{key}] must be a table, not {_toml_type(value)}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where}: expected a string, not {_toml_type(value)}")
    return value


def _toml_type(value: Any) -> str:
    """The TOML name of a parsed value's type, for error messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), "a date or time")


def _rule_ids() -> list[str]:
    from cniguard.rules import RULES_BY_ID  # imported here: the rules import this module's types

    return sorted(RULES_BY_ID)


def _known_keys(table: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise InputError(
            f"{where}: unknown key(s): {', '.join(unknown)} (expected {', '.join(known)})"
        )


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    known = {"required_tags", "production", "severity", "suppressions", "thresholds", "cost"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{source}: unknown key(s): {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    if "required_tags" in data:
        kwargs["required_tags"] = _str_list(data["required_tags"], f"{source}: required_tags")
    prod = _table(data, "production", source)
    _known_keys(prod, ("tag_key", "values"), f"{source}: [production]")
    if "tag_key" in prod:
        kwargs["production_tag_key"] = _string(prod["tag_key"], f"{source}: production.tag_key")
    if "values" in prod:
        kwargs["production_values"] = _str_list(prod["values"], f"{source}: production.values")
    rule_ids = _rule_ids()
    overrides: dict[str, Severity] = {}
    for rule_id, sev in _table(data, "severity", source).items():
        if rule_id not in rule_ids:
            raise InputError(
                f"{source}: severity.{rule_id}: unknown rule id (`cniguard rules` lists them)"
            )
        if sev not in SEVERITIES:
            raise InputError(
                f"{source}: severity.{rule_id} = {sev!r}; expected one of {', '.join(SEVERITIES)}"
            )
        overrides[str(rule_id)] = cast(Severity, sev)
    kwargs["severity_overrides"] = overrides
    thresholds = _table(data, "thresholds", source)
    _known_keys(thresholds, ("stuck_pod_minutes",), f"{source}: [thresholds]")
    if "stuck_pod_minutes" in thresholds:
        minutes = thresholds["stuck_pod_minutes"]
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0:
            raise InputError(f"{source}: thresholds.stuck_pod_minutes must be a whole number")
        kwargs["stuck_pod_minutes"] = minutes
    sups = []
    raw_sups = data.get("suppressions", [])
    if not isinstance(raw_sups, list):
        raise InputError(
            f"{source}: suppressions must be an array of tables ([[suppressions]]), "
            f"not {_toml_type(raw_sups)}"
        )
    for i, raw in enumerate(raw_sups):
        where = f"{source}: suppressions[{i}]"
        if not isinstance(raw, dict):
            raise InputError(f"{where}: must be a table")
        _known_keys(raw, ("rule", "resource", "reason", "expires"), where)
        missing = [k for k in ("rule", "reason") if not raw.get(k)]
        if missing:
            raise InputError(
                f"{where}: missing {', '.join(missing)} (a suppression needs a reason)"
            )
        expires = raw.get("expires")
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise InputError(f"{where}: expires {expires!r} is not a YYYY-MM-DD date") from None
        elif isinstance(expires, dt.datetime):
            expires = expires.date()
        elif expires is not None and not isinstance(expires, dt.date):
            raise InputError(f"{where}: expires must be a date")
        rule = _string(raw["rule"], f"{where}.rule")
        if not fnmatch.filter(rule_ids, rule):
            raise InputError(
                f"{where}.rule: {rule!r} matches no rule id (`cniguard rules` lists them)"
            )
        sups.append(
            Suppression(
                rule=rule,
                resource=_string(raw.get("resource", "*"), f"{where}.resource"),
                reason=_string(raw["reason"], f"{where}.reason"),
                expires=expires,
            )
        )
    kwargs["suppressions"] = tuple(sups)
    kwargs["cost"] = parse_cost(_table(data, "cost", source), source)
    return Config(**kwargs)


def load_config(path: Path) -> Config:
    try:
        data = tomllib.loads(read_utf8(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: {exc}") from None
    return parse_config(data, str(path))
