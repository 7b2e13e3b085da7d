"""``collect_cloudformation``: decode every template, follow nested stacks, read, join."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.cloudformation.assembly import Assembly
from cniguard.collect.iac.cloudformation.eks_reader import Reader
from cniguard.collect.iac.cloudformation.finish import Finisher
from cniguard.collect.iac.cloudformation.template import Exports, Template, decode, stack_names


def collect_cloudformation(paths: Sequence[Path]) -> IacFragment:
    """Every cluster, node identity, role and OIDC provider the templates at ``paths`` define."""
    out = IacFragment()
    assembly = Assembly()
    decoded: dict[str, Mapping[str, Any]] = {}
    for path in paths:
        data = decode(path, out)
        if data is not None:
            out.files_read.append(str(path))
            decoded[str(path)] = data
    assembly.scanned = {os.path.normpath(f): f for f in decoded}
    stems = stack_names(list(decoded))
    exports = Exports()
    templates = [Template(f, data, stems[f], exports.get) for f, data in decoded.items()]
    exports.templates = templates
    children: dict[str, list[tuple[Template, str]]] = {}
    for parent in templates:
        for logical_id in parent.resources:
            child = parent.nested_file(logical_id, assembly.scanned)
            stack = parent.type_of(logical_id) == "AWS::CloudFormation::Stack"
            local = child is not None and child != parent.file
            if stack and child is not None and local and parent.exists(logical_id):
                children.setdefault(child, []).append((parent, logical_id))
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
            )
            Reader(nested, assembly).read()
    Finisher(assembly).finish(out)
    return out
