"""CloudFormation intrinsic functions evaluated the way the template will deploy, as far as it can.

What cannot be known before deploy (a parameter without default, an import, an unknown attribute)
becomes the text ``${<expression>}``, so names stay readable and readers can tell (``"${" in s``)
that a value is unresolved. ``Fn::If`` keeps both branches wherever a list allows it: a grant in
either branch is a grant the template can deploy. A scalar ``Fn::If`` whose condition the parameter
defaults cannot decide is an :class:`Undecided` value: the reader either takes every branch (grants)
or leaves the field unknown (bindings), never one branch silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cniguard.collect.iac import synthetic

NO_VALUE = "\x00AWS::NoValue"  # dropped from lists and mappings
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
MAX_DEPTH = 64

PSEUDO: dict[str, str] = {
    "AWS::Partition": synthetic.PARTITION,
    "AWS::AccountId": synthetic.ACCOUNT,
    "AWS::Region": synthetic.REGION,
    "AWS::URLSuffix": synthetic.URL_SUFFIX,
    "AWS::StackName": "${AWS::StackName}",
    "AWS::StackId": "${AWS::StackId}",
    "AWS::NotificationARNs": "${AWS::NotificationARNs}",
}


@dataclass(frozen=True)
class Undecided:
    """A scalar ``Fn::If`` whose condition depends on values only known at deploy."""

    condition: str
    branches: tuple[Any, ...]

    def __str__(self) -> str:
        return f"${{Fn::If {self.condition}}}"


def alternatives(value: Any) -> list[Any]:
    """Every value ``value`` may take (the branches of undecided conditions, ``NoValue`` dropped)."""
    if isinstance(value, Undecided):
        return [v for branch in value.branches for v in alternatives(branch)]
    return [] if value == NO_VALUE else [value]


def unresolved(value: Any) -> bool:
    """True for text holding an unresolved expression, or an undecided condition (the synthetic
    account/region do not count: they are the stand-ins every IaC collector uses)."""
    if isinstance(value, Undecided):
        return True
    if not isinstance(value, str) or "${" not in value:
        return False
    return "${" in value.replace(synthetic.ACCOUNT, "").replace(synthetic.REGION, "")


class Evaluator:
    """Evaluates one template. ``ref`` / ``get_att`` resolve logical ids to deploy-time values."""

    def __init__(
        self,
        parameters: Mapping[str, Any],
        mappings: Mapping[str, Any],
        ref: Callable[[str], str | None],
        get_att: Callable[[str, str], str | None],
        conditions: Mapping[str, Any] | None = None,
        import_value: Callable[[str], Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        stack_name: str | None = None,
    ) -> None:
        self._parameters = parameters
        self._pseudo = {**PSEUDO, "AWS::StackName": stack_name} if stack_name else PSEUDO
        self._import_value = import_value
        self._overrides = overrides or {}
        self._mappings = mappings
        self._conditions = conditions or {}
        self._ref = ref
        self._get_att = get_att

    def value(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return "${nesting too deep}"
        if isinstance(node, Mapping):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref":
                    return self.ref(arg)
                if isinstance(key, str) and key.startswith("Fn::"):
                    return self._function(key, arg, depth + 1)
            out: dict[str, Any] = {}
            for key, item in node.items():
                evaluated = self.value(item, depth + 1)
                if evaluated != NO_VALUE:
                    out[str(key)] = evaluated
            return out
        if isinstance(node, list):
            return self._list(node, depth + 1)
        return node

    def _list(self, items: list[Any], depth: int) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, Mapping) and len(item) == 1 and "Fn::If" in item:
                branches = item["Fn::If"]
                if isinstance(branches, list) and len(branches) == 3:
                    for branch in branches[1:]:
                        evaluated = self.value(branch, depth + 1)
                        if evaluated != NO_VALUE:
                            out.append(evaluated)
                    continue
            evaluated = self.value(item, depth + 1)
            if evaluated != NO_VALUE:
                out.append(evaluated)
        return out

    def ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            return "${Ref ?}"
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._overrides:  # a nested stack's parameter, as its parent passes it
            return self._overrides[name]
        if name in self._parameters:
            param = self._parameters[name]
            if isinstance(param, Mapping) and "Default" in param:
                default = param["Default"]
                kind = str(param.get("Type", ""))
                if kind.startswith("List<") or kind == "CommaDelimitedList":
                    return [s.strip() for s in str(default).split(",")] if default != "" else []
                return default if not isinstance(default, int | float) else str(default)
            return f"${{{name}}}"
        resolved = self._ref(name)
        return resolved if resolved is not None else f"${{{name}}}"

    def get_att(self, logical_id: str, attribute: str) -> str:
        resolved = self._get_att(logical_id, attribute)
        return resolved if resolved is not None else f"${{{logical_id}.{attribute}}}"

    def _function(self, name: str, arg: Any, depth: int) -> Any:
        if name == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(parts, list) and len(parts) == 2:
                attr = self.value(parts[1], depth)
                return self.get_att(str(parts[0]), str(attr))
            return "${Fn::GetAtt ?}"
        if name == "Fn::Sub":
            return self._sub(arg, depth)
        if name == "Fn::Join":
            if isinstance(arg, list) and len(arg) == 2:
                items = self.value(arg[1], depth)
                if isinstance(items, list):
                    return str(arg[0]).join(_text(i) for i in items)
            return "${Fn::Join ?}"
        if name == "Fn::Select":
            if isinstance(arg, list) and len(arg) == 2:
                index, items = self.value(arg[0], depth), self.value(arg[1], depth)
                if unresolved(items):
                    return items  # an unresolved list stays the same unresolved text
                try:
                    return items[int(index)] if isinstance(items, list) else "${Fn::Select ?}"
                except (ValueError, IndexError):
                    return f"${{Fn::Select {index}}}"
            return "${Fn::Select ?}"
        if name == "Fn::Split":
            if isinstance(arg, list) and len(arg) == 2:
                source = self.value(arg[1], depth)
                if isinstance(source, str) and not unresolved(source):
                    return source.split(str(arg[0]))
                return source if unresolved(source) else "${Fn::Split ?}"
            return "${Fn::Split ?}"
        if name == "Fn::FindInMap":
            return self._find_in_map(arg, depth)
        if name == "Fn::If":
            return self._if(arg, depth)
        if name == "Fn::Base64":
            return self.value(arg, depth)
        if name == "Fn::ToJsonString":
            return json.dumps(self.value(arg, depth), separators=(",", ":"))
        if name == "Fn::ImportValue":
            export = self.value(arg, depth)
            known = isinstance(export, str) and not unresolved(export)
            if self._import_value is not None and known:
                imported = self._import_value(export)
                if imported is not None:
                    return imported
            return f"${{ImportValue {_text(export)}}}"
        if name == "Fn::GetAZs":
            return ["${Fn::GetAZs}"]
        if name == "Fn::Length":
            items = self.value(arg, depth)
            return str(len(items)) if isinstance(items, list) else "${Fn::Length}"
        return f"${{{name}}}"

    def _sub(self, arg: Any, depth: int) -> str:
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], Mapping):
            template, variables = arg[0], {k: self.value(v, depth) for k, v in arg[1].items()}
        else:
            template, variables = arg, {}
        if not isinstance(template, str):
            return "${Fn::Sub ?}"

        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in variables:
                return _text(variables[expr])
            if "." in expr and not expr.startswith("AWS::"):
                logical_id, attribute = expr.split(".", 1)
                return self.get_att(logical_id, attribute)
            return _text(self.ref(expr))

        return _SUB_VAR.sub(replace, template)

    def _find_in_map(self, arg: Any, depth: int) -> Any:
        if not isinstance(arg, list) or len(arg) < 3:
            return "${Fn::FindInMap ?}"
        keys = [self.value(k, depth) for k in arg[:3]]
        node: Any = self._mappings
        for key in keys:
            if not isinstance(node, Mapping) or not isinstance(key, str) or key not in node:
                if len(arg) == 4 and isinstance(arg[3], Mapping) and "DefaultValue" in arg[3]:
                    return self.value(arg[3]["DefaultValue"], depth)
                return "${Fn::FindInMap " + "/".join(_text(k) for k in keys) + "}"
            node = node[key]
        return self.value(node, depth)

    def _if(self, arg: Any, depth: int) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            return "${Fn::If ?}"
        first, second = self.value(arg[1], depth), self.value(arg[2], depth)
        if isinstance(first, list) and isinstance(second, list):
            return first + [item for item in second if item not in first]
        decided = self.condition(arg[0], depth)
        if decided is not None:
            return first if decided else second
        if first == second:
            return first
        if isinstance(first, list) and second == NO_VALUE:
            return first
        if isinstance(second, list) and first == NO_VALUE:
            return second
        return Undecided(_text(arg[0]), (first, second))

    def condition(self, node: Any, depth: int = 0) -> bool | None:
        """A condition's value from parameter defaults; None when it depends on unknowns."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(node, str):
            return (
                self.condition(self._conditions.get(node), depth + 1)
                if node in self._conditions
                else None
            )
        if not isinstance(node, Mapping) or len(node) != 1:
            return None
        ((key, arg),) = node.items()
        args = arg if isinstance(arg, list) else [arg]
        if key == "Condition":
            return self.condition(arg, depth + 1)
        if key == "Fn::Equals" and len(args) == 2:
            left, right = (self.value(a, depth + 1) for a in args)
            if unresolved(left) or unresolved(right):
                return None
            return _text(left) == _text(right)
        values = [self.condition(a, depth + 1) for a in args]
        if key == "Fn::Not" and len(values) == 1:
            return None if values[0] is None else not values[0]
        if key == "Fn::And":
            return False if False in values else (None if None in values else True)
        if key == "Fn::Or":
            return True if True in values else (None if None in values else False)
        return None


def _text(value: Any) -> str:
    if isinstance(value, Undecided):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))
