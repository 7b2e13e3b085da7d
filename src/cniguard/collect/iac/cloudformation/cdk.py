"""What CDK adds around its templates: asset manifests, its own provider stacks, Jest snapshots.

``cdk synth`` writes each nested stack as ``<id>.nested.template.json`` and names it in the parent
only through an S3 URL whose object key is the asset hash; the ``*.assets.json`` manifest beside
the templates maps that hash back to the file. Every ``eks.Cluster`` of aws-cdk-lib also adds two
nested stacks of its own (the cluster-resource and kubectl providers: Lambda functions and their
roles, never nodes), so even unread they leave no node group unknown. Projects often commit their
synthesised template only as a Jest snapshot (``__snapshots__/*.snap``, pretty-format text, not
JSON); it is turned back into JSON line for line so findings keep the snapshot's line numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_HASH = re.compile(r"[0-9a-f]{64}")
_PROVIDERS = ("@aws-cdk--aws-eks.ClusterResourceProvider", "@aws-cdk--aws-eks.KubectlProvider")
_PROVIDER_IDS = ("awscdkawseksClusterResourceProvider", "awscdkawseksKubectlProvider")
_EXPORT = re.compile(r"^exports\[`(.*)`\] = `\s*$")
_KEY = re.compile(r'^(\s*)"((?:[^"\\]|\\.)*)": (.*)$')
_PROTOTYPE = re.compile(r"^(Object|Array) (?=[{\[])")
_SNAPSHOT_ESCAPE = re.compile(r"\\(`|\\|\$\{)")


def asset_templates(folder: Path) -> dict[str, Path]:
    """Asset hash -> template file, from the ``*.assets.json`` manifests in ``folder``."""
    found: dict[str, Path] = {}
    for manifest in sorted(folder.glob("*.assets.json")):
        try:
            data = json.loads(manifest.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # not a manifest cniguard can use: nested stacks stay unread (a gap)
        files = data.get("files") if isinstance(data, Mapping) else None
        for asset_hash, asset in files.items() if isinstance(files, Mapping) else ():
            source = asset.get("source") if isinstance(asset, Mapping) else None
            path = source.get("path") if isinstance(source, Mapping) else None
            if isinstance(path, str) and path.endswith(".json"):
                found[str(asset_hash)] = folder / path
    return found


def nested_asset(template_url: Any, assets: Mapping[str, Path]) -> Path | None:
    """The template file a nested stack's ``TemplateURL`` names through its asset hash."""
    text = json.dumps(template_url, default=str)
    return next((assets[h] for h in _HASH.findall(text) if h in assets), None)


def is_cdk_provider_stack(logical_id: str, resource: Mapping[str, Any]) -> bool:
    """aws-cdk-lib's own EKS provider nested stack (cluster-resource or kubectl handlers)."""
    metadata = resource.get("Metadata")
    path = metadata.get("aws:cdk:path") if isinstance(metadata, Mapping) else None
    if isinstance(path, str):
        return any(p in path for p in _PROVIDERS)
    return logical_id.startswith(_PROVIDER_IDS)


def jest_templates(text: str) -> list[tuple[str, str]]:
    """(export name, JSON text with the snapshot's line numbers) for every export of a Jest
    snapshot file that holds an object; other lines are left blank."""
    lines = text.splitlines()
    out: list[tuple[str, str]] = []
    index = 0
    while index < len(lines):
        match = _EXPORT.match(lines[index])
        index += 1
        if match is None:
            continue
        start = index
        while index < len(lines) and lines[index] != "`;":
            index += 1
        body = _SNAPSHOT_ESCAPE.sub(r"\1", "\n".join(lines[start:index])).split("\n")
        if body and body[0].lstrip().startswith(("{", "Object {")):
            out.append((match.group(1), "\n" * start + "\n".join(_to_json(body))))
    return out


def _to_json(body: list[str]) -> list[str]:
    """pretty-format's output (one property per line, trailing commas, unescaped strings in
    Jest >= 29, ``Object {`` in older Jest) as JSON with the same number of lines."""
    legacy = body[0].lstrip().startswith("Object ")
    out: list[str] = []
    index = 0
    while index < len(body):
        line = body[index]
        indent, key, rest = _split(line)
        rest = _PROTOTYPE.sub("", rest)
        consumed = 0
        if rest.startswith('"'):
            content, consumed, comma = _string(body, index, rest, legacy)
            rest = json.dumps(content) + comma
        elif rest.rstrip(",") == "undefined":
            rest = "null" + ("," if rest.endswith(",") else "")
        out.append(indent + (json.dumps(key) + ": " if key is not None else "") + rest)
        out.extend("" for _ in range(consumed))
        index += 1 + consumed
    for i, line in enumerate(out):  # trailing commas before a closing bracket
        following = next((n.strip() for n in out[i + 1 :] if n.strip()), "")
        if line.endswith(",") and following[:1] in ("}", "]"):
            out[i] = line[:-1]
    return out


def _split(line: str) -> tuple[str, str | None, str]:
    match = _KEY.match(line)
    if match is not None:
        return match.group(1), json.loads(f'"{match.group(2)}"'), match.group(3)
    stripped = line.lstrip()
    return line[: len(line) - len(stripped)], None, stripped


def _string(body: list[str], index: int, rest: str, legacy: bool) -> tuple[str, int, str]:
    """A string value that may run over several lines: (content, extra lines, comma)."""
    parts = [rest[1:]]
    consumed = 0
    while not (parts[-1].endswith('",') or parts[-1].endswith('"')) or parts[-1] == "":
        if index + consumed + 1 >= len(body):
            break
        consumed += 1
        parts.append(body[index + consumed])
    last = parts[-1]
    comma = "," if last.endswith(",") else ""
    parts[-1] = last[: -len(comma) - 1] if last.endswith('"' + comma) else last
    content = "\n".join(parts)
    if legacy:  # older Jest escaped quotes and backslashes inside strings
        content = re.sub(r'\\(["\\])', r"\1", content)
    return content, consumed, comma
