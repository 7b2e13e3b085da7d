"""The three PATCH bodies the Kubernetes API accepts for built-in types, chosen by Content-Type.

- ``application/merge-patch+json``: RFC 7386 (objects merge, null deletes, lists replace).
- ``application/strategic-merge-patch+json``: like merge patch, but lists of objects with a
  merge key (containers by name, env by name, ...) merge item by item, ``$patch: delete`` /
  ``$patch: replace`` directives apply and ``$setElementOrder/...`` hints are dropped. The merge
  keys are those of the core types' ``patchMergeKey`` tags, by field name.
- ``application/json-patch+json``: RFC 6902, through the ``jsonpatch`` library.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
PATCH_TYPES = (MERGE_PATCH, STRATEGIC, JSON_PATCH)
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "topologySpreadConstraints": "topologyKey",
}


class PatchError(ValueError):
    """The patch cannot be applied (the API server answers 422 or 400)."""


def apply_patch(content_type: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The patched copy of ``target``."""
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("json patch must be a list of operations")
        try:
            result = jsonpatch.apply_patch(target, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise PatchError(str(exc)) from exc
        if not isinstance(result, dict):
            raise PatchError("the patch does not leave an object")
        return result
    if not isinstance(patch, dict):
        raise PatchError(f"{content_type} patch must be a JSON object")
    merged: dict[str, Any] = (
        _merge(target, patch) if content_type == MERGE_PATCH else _strategic(target, patch)
    )
    return merged


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _strategic(target: Any, patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    body = {k: v for k, v in patch.items() if not k.startswith("$")}
    if directive == "replace":
        return copy.deepcopy(body)
    if directive is not None:
        raise PatchError(f"unknown patch directive in an object: {directive}")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in body.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = _strategic(result.get(key), value)
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    result = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"a list merged by {key} needs objects with {key}")
        directive = item.get("$patch")
        position = next((i for i, old in enumerate(result) if old.get(key) == item[key]), None)
        if directive == "delete":
            if position is not None:
                del result[position]
        elif directive is not None:
            raise PatchError(f"unknown patch directive in a list: {directive}")
        elif position is None:
            result.append(_strategic({}, item))
        else:
            result[position] = _strategic(result[position], item)
    return result
