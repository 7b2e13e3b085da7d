"""``collect_cloudformation``: decode every template, follow nested stacks, read, join."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.cloudformation.assembly import Assembly
from cniguard.collect.iac.cloudformation.cdk import asset_templates, nested_asset
from cniguard.collect.iac.cloudformation.eks_reader import Reader
from cniguard.collect.iac.cloudformation.finish import Finisher
from cniguard.collect.iac.cloudformation.template import Exports, Template, decode, stack_names


def _decode_all(
    paths: Sequence[Path], out: IacFragment
) -> tuple[dict[str, Mapping[str, Any]], dict[str, str], dict[str, Path]]:
    """(template id -> template, template id -> file, CDK assets): the given files, and the
    nested stack templates their CDK asset manifests name (read even when not given)."""
    decoded: dict[str, Mapping[str, Any]] = {}
    files: dict[str, str] = {}
    assets: dict[str, Path] = {}
    queue = list(paths)
    seen: set[str] = set()
    manifests: dict[Path, dict[str, Path]] = {}  # folder -> its CDK assets, read once
    while queue:
        path = queue.pop(0)
        if os.path.normpath(path) in seen:
            continue
        seen.add(os.path.normpath(path))
        found = decode(path, out)
        if found:
            out.files_read.append(str(path))
        for key, data in found:
            decoded[key], files[key] = data, str(path)
        if found and path.parent not in manifests:
            manifests[path.parent] = asset_templates(path.parent)
        folder_assets = manifests.get(path.parent, {})
        assets.update(folder_assets)
        for data in (d for _, d in found):
            resources = data.get("Resources")
            for resource in resources.values() if isinstance(resources, Mapping) else ():
                if not isinstance(resource, Mapping):
                    continue
                if resource.get("Type") != "AWS::CloudFormation::Stack":
                    continue
                props = resource.get("Properties")
                url = props.get("TemplateURL") if isinstance(props, Mapping) else None
                child = nested_asset(url, folder_assets)
                if child is not None and child.is_file():
                    queue.append(child)
    return decoded, files, assets


def collect_cloudformation(paths: Sequence[Path]) -> IacFragment:
    """Every cluster, node identity, role and OIDC provider the templates at ``paths`` define."""
    out = IacFragment()
    assembly = Assembly()
    decoded, files, assembly.assets = _decode_all(paths, out)
    assembly.scanned = {os.path.normpath(f): f for f in decoded}
    stems = stack_names(list(decoded))
    exports = Exports()
    templates = [
        Template(f, data, stems[f], exports.get, path=files[f]) for f, data in decoded.items()
    ]
    exports.templates = templates
    children: dict[str, list[tuple[Template, str]]] = {}
    for parent in templates:
        for logical_id in parent.resources:
            child = parent.nested_file(logical_id, assembly.scanned, assembly.assets)
            stack = parent.type_of(logical_id) == "AWS::CloudFormation::Stack"
            local = child is not None and child != parent.file
            if stack and child is not None and local and parent.exists(logical_id):
                children.setdefault(child, []).append((parent, logical_id))
                assembly.children.setdefault(parent.file, set()).add(child)
    for template in templates:
        followed = children.get(template.file)
        if not followed:
            Reader(template, assembly).read()
        for parent, logical_id in followed or ():
            params = parent.prop(logical_id, "Parameters")
            nested = Template(
                template.file,
                template.data,
                template.stem,
                exports.get,
                params if isinstance(params, Mapping) else {},
                path=template.path,
            )
            Reader(nested, assembly).read()
    Finisher(assembly).finish(out)
    return out
