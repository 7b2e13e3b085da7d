"""``terraform show -json`` plans: planned resource values, mapped like evaluated HCL.

Attributes unknown until apply are absent from ``planned_values``; ``after_unknown`` says so, and
the ``configuration`` section's ``references`` tell which resource such a value comes from (a node
group's ``node_role_arn`` -> ``aws_iam_role.node.arn``), so links survive a fresh plan.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.terraform.computed import qualify, with_computed
from cniguard.collect.iac.terraform.hcl import MAX_FILE_BYTES
from cniguard.collect.iac.terraform.mapping import build_fragment
from cniguard.collect.iac.terraform.mapping_base import WHAT
from cniguard.collect.iac.terraform.module import MAPPED_TYPES
from cniguard.collect.iac.terraform.records import ResourceInstance
from cniguard.collect.iac.terraform.values import Unknown
from cniguard.model.common import Origin
from cniguard.model.inventory import Gap

_INDEX = re.compile(r"\[[^\]]*\]$")


def _lines(text: str) -> dict[str, int]:
    """Line of the first ``"address": "..."`` of each resource in the JSON text."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.search(r'"address"\s*:\s*"((?:[^"\\]|\\.)*)"', line)
        if match:
            lines.setdefault(json.loads(f'"{match.group(1)}"'), number)
    return lines


def _walk_modules(module: dict[str, Any]) -> list[dict[str, Any]]:
    resources = list(module.get("resources") or [])
    for child in module.get("child_modules") or []:
        resources.extend(_walk_modules(child))
    return resources


def _config_expressions(config: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """``module.x.aws_iam_role.node`` -> its configuration expressions."""
    found: dict[str, dict[str, Any]] = {}
    for resource in config.get("resources") or []:
        found[f"{prefix}{resource.get('address')}"] = resource.get("expressions") or {}
    for name, call in (config.get("module_calls") or {}).items():
        found.update(_config_expressions(call.get("module") or {}, f"{prefix}module.{name}."))
    return found


def _module_prefix(address: str) -> str:
    parts = address.split(".")
    prefix: list[str] = []
    while len(parts) > 2 and parts[0] == "module":
        prefix.extend(parts[:2])
        parts = parts[2:]
    return ".".join(prefix) + ("." if prefix else "")


def read_plan(path: Path) -> IacFragment:
    display = path.as_posix()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"over the {MAX_FILE_BYTES} byte limit")
        text = path.read_text("utf-8")
        plan = json.loads(text)
        if not isinstance(plan, dict) or "format_version" not in plan:
            raise ValueError("not a terraform show -json document")
    except (OSError, ValueError) as exc:
        fragment = IacFragment()
        fragment.gaps.append(Gap(what=WHAT, resource=display, reason=f"{display}: {exc}"))
        return fragment
    lines = _lines(text)
    unknown_after: dict[str, dict[str, Any]] = {
        change.get("address"): (change.get("change") or {}).get("after_unknown") or {}
        for change in plan.get("resource_changes") or []
    }
    configs = _config_expressions((plan.get("configuration") or {}).get("root_module") or {})
    planned = _walk_modules((plan.get("planned_values") or {}).get("root_module") or {})
    instances: dict[str, ResourceInstance] = {}
    for resource in planned:
        address, resource_type = resource.get("address"), resource.get("type")
        if (
            resource.get("mode") != "managed"
            or resource_type not in MAPPED_TYPES
            or not isinstance(address, str)
        ):
            continue
        values = dict(resource.get("values") or {})
        for key, flag in unknown_after.get(address, {}).items():
            if flag is True and values.get(key) is None:
                values[key] = Unknown(
                    f"{address}.{key}", "known only after apply", display, lines.get(address)
                )
        instances[address] = ResourceInstance(
            address,
            resource_type,
            values,
            Origin(source="iac", file=display, line=lines.get(address)),
            {},
            scope=display,
        )
    _link_references(instances, configs)
    for instance in instances.values():
        computed = with_computed(
            instance.type,
            {
                k: (None if isinstance(v, Unknown) and k in ("name", "arn", "id", "url") else v)
                for k, v in instance.values.items()
            },
            qualify(display, instance.address),
        )
        instance.values = {**instance.values, **computed}
    _link_references(instances, configs)
    fragment = build_fragment(list(instances.values()), [])
    fragment.files_read.append(display)
    return fragment


def _link_references(
    instances: dict[str, ResourceInstance], configs: dict[str, dict[str, Any]]
) -> None:
    """Fill unknown attributes from the single resource attribute their expression references."""
    for instance in instances.values():
        prefix = _module_prefix(instance.address)
        expressions = configs.get(_INDEX.sub("", instance.address), {})
        for key, value in list(instance.values.items()):
            if not isinstance(value, Unknown):
                continue
            references = (expressions.get(key) or {}).get("references") or []
            for reference in references:
                target, _, attribute = reference.rpartition(".")
                source = instances.get(prefix + target) or instances.get(prefix + target + "[0]")
                if source and not isinstance(source.values.get(attribute, None), Unknown | None):
                    instance.values[key] = source.values[attribute]
                    break
