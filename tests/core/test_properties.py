"""Property tests: evaluation never crashes, and losing data never turns a fail or unknown into a pass."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cniguard.demo import build_fleet, demo_config
from cniguard.engine import evaluate
from cniguard.model.finding import Report
from cniguard.model.inventory import Inventory

FLEET = build_fleet()
CONFIG = demo_config()
RANK = {"pass": 0, "unknown": 1, "fail": 2}

Path = tuple[Any, ...]


def _optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


# Fields where None means "there is none" (read and absent), not "not read".
ABSENT_MEANS_NONE = {
    "permissions_boundary_arn",
    "service_account_role_arn",
    "target_role_arn",
    "owner_arn",
    "error_code",
    "configuration_values",
    "origin",
    "generated_at",
}


def nullable_paths(obj: Any, path: Path = ()) -> Iterator[Path]:
    """Every place where a read value could instead be "not read" (None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        hints = typing.get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if (
                value is not None
                and _optional(hints[f.name])
                and f.name not in ("origin", "generated_at")
            ):
                yield (*path, f.name)
            yield from nullable_paths(value, (*path, f.name))
    elif isinstance(obj, tuple):
        for i, item in enumerate(obj):
            yield from nullable_paths(item, (*path, i))


def set_path(obj: Any, path: Path, value: Any) -> Any:
    head, *rest = path
    if isinstance(obj, tuple):
        items = list(obj)
        items[head] = set_path(items[head], tuple(rest), value) if rest else value
        return tuple(items)
    current = getattr(obj, head)
    return dataclasses.replace(
        obj, **{head: set_path(current, tuple(rest), value) if rest else value}
    )


def drop_item(obj: Inventory, name: str, index: int) -> Inventory:
    items = list(getattr(obj, name))
    del items[index % len(items)]
    changes: dict[str, Any] = {name: tuple(items)}
    return dataclasses.replace(obj, **changes)


PATHS = list(nullable_paths(FLEET))
UNREAD_LISTS = ("roles", "oidc_providers_read", "cloudtrail_scopes", "sources")


def worst(report: Report) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for f in report.findings:
        key = (f.cluster, f.rule_id)
        out[key] = max(out.get(key, 0), RANK[f.status])
    return out


BASE = evaluate(FLEET, CONFIG)
BASE_WORST = worst(BASE)
BASE_COMPLIANT = {c.arn: c.compliant for c in BASE.clusters}


def assert_no_false_pass(mutated: Inventory) -> None:
    report = evaluate(mutated, CONFIG)
    assert [c.arn for c in report.clusters] == [c.arn for c in mutated.clusters]
    after = worst(report)
    for key, before in BASE_WORST.items():
        if before > 0:
            assert after.get(key, before) > 0, f"{key} turned into a pass"
    for c in report.clusters:
        if c.compliant is True:
            assert BASE_COMPLIANT.get(c.arn) is True, f"{c.name} became compliant by losing data"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PATHS), min_size=1, max_size=4, unique=True))
def test_unread_fields_never_produce_a_pass(paths: list[Path]) -> None:
    mutated = FLEET
    for path in sorted(paths, key=len, reverse=True):
        try:
            mutated = set_path(mutated, path, None)
        except (AttributeError, IndexError, TypeError):
            continue  # an enclosing object was already set to None
    assert_no_false_pass(mutated)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(UNREAD_LISTS), st.integers(min_value=0, max_value=500))
def test_unread_objects_never_produce_a_pass(name: str, index: int) -> None:
    if not getattr(FLEET, name):
        return
    assert_no_false_pass(drop_item(FLEET, name, index))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Statement",
                    "Effect",
                    "Action",
                    "NotAction",
                    "Resource",
                    "Principal",
                    "Condition",
                    "Federated",
                    "Allow",
                    "Deny",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
DOC_PATHS = [
    p
    for p in nullable_paths(FLEET)
    if p[-1] in ("trust_policy", "document", "permissions_boundary", "request_parameters")
]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(DOC_PATHS), JSON | st.text(max_size=30))
def test_garbage_documents_never_crash(path: Path, garbage: Any) -> None:
    mutated = set_path(FLEET, path, garbage)
    report = evaluate(mutated, CONFIG)
    assert len(report.clusters) == len(FLEET.clusters)
    errors = [f for f in report.findings if "error" in f.evidence]
    assert errors == [], errors[0].message if errors else ""
