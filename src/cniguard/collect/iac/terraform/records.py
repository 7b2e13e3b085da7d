"""What module evaluation hands the mapper: resource instances with their evaluated values, and
what could not be evaluated (a module call that is not, with its inputs)."""

from __future__ import annotations

from dataclasses import dataclass

from cniguard.collect.iac.terraform.values import Unknown, Value
from cniguard.model.common import Origin


@dataclass
class ResourceInstance:
    """One instance of a resource, with its evaluated values: the mapper's neutral input."""

    address: str
    type: str
    values: dict[str, Value]
    origin: Origin
    attribute_lines: dict[str, int]
    module_kind: str | None = None
    scope: str = ""  # the root module directory: placeholders are unique per root
    # set when count / for_each could not be evaluated: the instance may exist (zero or more
    # times); its values are the body evaluated with ``each`` / ``count.index`` unknown
    expansion: Unknown | None = None
    expanded_by: str = ""  # "count" or "for_each" when ``expansion`` is set


@dataclass(frozen=True)
class Problem:
    """Something that could not be evaluated and matters to the model (becomes a Gap)."""

    address: str
    unknown: Unknown
    origin: Origin
    # a module call whose code is not evaluated: its source and evaluated inputs (to tell
    # which clusters what it may create concerns)
    source: str | None = None
    inputs: tuple[tuple[str, Value], ...] = ()
    scope: str = ""  # the root module directory
