"""Values of the Terraform evaluator: plain Python data plus an explicit *unknown*.

A value that cannot be known before apply (or that this evaluator does not support) is an
:class:`Unknown` naming the expression, file and line, and it spreads through every operation that
uses it. ``EvalError`` is a definite error in the code (missing attribute, wrong type): ``try()``
and ``can()`` catch it, exactly as Terraform does, but never an ``Unknown``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

Value = Any


@dataclass(frozen=True)
class Unknown:
    """``owner``: the resource (root-qualified address) whose own attribute this is, when the
    value is read straight from it (``aws_eks_cluster.main.name`` with an unresolved name): the
    mapper links by that reference where it cannot link by value. Deriving a new value from it
    (a template with more text, a function) drops the owner."""

    expr: str
    reason: str
    file: str | None = None
    line: int | None = None
    owner: str | None = None

    def describe(self) -> str:
        where = f" at {self.file}:{self.line}" if self.file and self.line else ""
        return f"`{self.expr}`{where}: {self.reason}"


class EvalError(Exception):
    """A definite evaluation error (what ``try`` recovers from)."""


class Namespace:
    """A lazily filled name space: ``var``, ``local``, a resource type, a module's outputs."""

    def __init__(self, what: str, getter: Callable[[str], Value]) -> None:
        self.what = what
        self._getter = getter

    def get(self, name: str) -> Value:
        return self._getter(name)


class ResourceObject(dict[str, Value]):
    """A resource or data source instance: an attribute it does not set is known after apply."""

    def __init__(self, address: str, values: dict[str, Value]) -> None:
        super().__init__(values)
        self.address = address

    def attribute(self, name: str) -> Value:
        if name in self:
            return self[name]
        return Unknown(f"{self.address}.{name}", "known only after apply")


def unowned(value: Unknown) -> Unknown:
    """The same unknown, no longer the value of one resource (it was transformed)."""
    return replace(value, owner=None) if value.owner else value


def deep_unknown(value: Value) -> Unknown | None:
    """The first unknown anywhere inside a value (used before serialising it)."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, dict):
        for item in value.values():
            found = deep_unknown(item)
            if found:
                return found
    if isinstance(value, list):
        for item in value:
            found = deep_unknown(item)
            if found:
                return found
    return None


def type_name(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def to_text(value: Value) -> str:
    """Terraform's string conversion of a primitive (templates, ``tostring``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    raise EvalError(f"cannot use a {type_name(value)} value as a string")


def to_bool(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise EvalError(f"a {type_name(value)} value is not a bool")


def to_number(value: Value) -> int | float:
    if isinstance(value, bool):
        raise EvalError("a bool value is not a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError as exc:
            raise EvalError(f"{value!r} is not a number") from exc
        return int(number) if number.is_integer() and "." not in value else number
    raise EvalError(f"a {type_name(value)} value is not a number")


def to_int(value: Value) -> int:
    """A whole number for an index, a count or a length (infinity and NaN are errors)."""
    number = to_number(value)
    if isinstance(number, float) and not math.isfinite(number):
        raise EvalError(f"{number} is not a whole number")
    return int(number)


def as_collection(value: Value) -> list[tuple[Value, Value]]:
    """(key, value) pairs of a list (index keys) or map/object (sorted keys, as Terraform)."""
    if isinstance(value, dict):
        return [(k, value[k]) for k in sorted(value)]
    if isinstance(value, list):
        return list(enumerate(value))
    raise EvalError(f"cannot iterate over a {type_name(value)} value")
