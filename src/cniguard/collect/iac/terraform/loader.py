"""Where a ``module`` block's code comes from: local directories, ``.terraform/modules`` after
``terraform init``, or the emulation of a known registry module. Anything else is not evaluated
and says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from pathlib import Path, PurePosixPath

from cniguard.collect.iac.terraform import registry
from cniguard.collect.iac.terraform.hcl import Block, HclFile, ParseCache, load_file, parse_text
from cniguard.collect.iac.terraform.module import ModuleDefinition, ModuleInstance
from cniguard.collect.iac.terraform.values import Unknown


@cache
def _shim(key: str) -> ModuleDefinition:
    kind, files = registry.SHIMS[key]
    definition = ModuleDefinition(
        display_dir=f"registry:{key}", user_code=False, kind=kind, registry=key
    )
    for name, text in files.items():
        definition.add_file(parse_text(text, f"registry:{key}/{name}"))
    return definition


def _module_key(address: str, name: str) -> str:
    """``module.eks.module.ng["a"]`` + ``x`` -> ``eks.ng.x`` (the key modules.json uses)."""
    bare = re.sub(r"\[[^\]]*\]", "", address)
    names = [p for i, p in enumerate(bare.split(".")) if i % 2 == 1] if bare else []
    return ".".join([*names, name])


def _major(text: str | None) -> str | None:
    match = re.search(r"\d+", text or "")
    return match.group(0) if match else None


class Loader:
    """Loads module definitions once per directory and records every file it read or skipped."""

    def __init__(self) -> None:
        self.files: dict[Path, HclFile] = {}
        self._definitions: dict[Path, ModuleDefinition] = {}
        self._manifests: dict[Path, dict[str, str]] = {}
        self._parsed: ParseCache = {}

    def read(self, path: Path, display: str) -> HclFile:
        key = path.resolve()
        if key not in self.files:
            self.files[key] = load_file(
                path, display, configuration=path.suffix == ".tf", cache=self._parsed
            )
        return self.files[key]

    def directory(
        self, directory: Path, display_dir: str, root: Path, user_code: bool = True
    ) -> ModuleDefinition:
        if directory in self._definitions:
            return self._definitions[directory]
        definition = ModuleDefinition(
            display_dir=display_dir, directory=directory, root=root, user_code=user_code
        )
        for path in sorted(directory.glob("*.tf")):
            parsed = self.read(path, module_path(display_dir, path.name))
            if parsed.body is not None:
                definition.add_file(parsed.body)
        self._definitions[directory] = definition
        return definition

    def _installed(self, root: Path) -> dict[str, str]:
        if root not in self._manifests:
            manifest: dict[str, str] = {}
            path = root / ".terraform" / "modules" / "modules.json"
            try:
                data = json.loads(path.read_text("utf-8"))
                for entry in data.get("Modules", []):
                    if entry.get("Key") and isinstance(entry.get("Dir"), str):
                        manifest[entry["Key"]] = entry["Dir"]
            except (OSError, ValueError, AttributeError):
                manifest = {}
            self._manifests[root] = manifest
        return self._manifests[root]

    def load(self, caller: ModuleInstance, call: Block, source: str) -> ModuleDefinition | str:
        parent = caller.definition
        if parent.registry is not None:
            child = registry.local_child(parent.registry, source)
            if child is None:
                return f"module source {source!r} inside {parent.registry} is not emulated"
            return replace(_shim(child), version=parent.version)
        name = call.labels[0]
        if source.startswith(("./", "../")):
            if parent.directory is None or parent.root is None:
                return f"local module {source!r} has no directory"
            directory = parent.directory / source
            display = module_path(parent.display_dir, source)
            if not directory.is_dir():
                return f"local module directory {display} does not exist"
            return self.directory(directory, display, parent.root, parent.user_code)
        if parent.root is not None:
            installed = self._installed(parent.root).get(_module_key(caller.address, name))
            if installed and (parent.root / installed).is_dir():
                display = module_path(
                    str(parent.display_dir if parent.directory == parent.root else "."), installed
                )
                return self.directory(parent.root / installed, display, parent.root, False)
        known = registry.registry_key(source)
        if known is None:
            return (
                f"module source {source!r} is not evaluated (not local, not installed in "
                ".terraform/modules, not a registry module cniguard knows)"
            )
        key, ref = known
        version_attr = call.attributes.get("version")
        version = ref
        if version_attr is not None:
            value = caller.context(call.source).value(version_attr.expr)
            version = value if isinstance(value, str) and not isinstance(value, Unknown) else ref
        return replace(_shim(key), version=_major(version) or "")


def module_path(base: str, source: str) -> str:
    """Join a caller directory and a local ``source`` the way the user wrote it."""
    joined = PurePosixPath(base) / source
    parts_out: list[str] = []
    for part in joined.parts:
        if part == "..":
            if parts_out and parts_out[-1] != "..":
                parts_out.pop()
            else:
                parts_out.append(part)
        elif part not in (".", "/"):
            parts_out.append(part)
    text = "/".join(parts_out)
    return f"/{text}" if joined.is_absolute() else text or "."
