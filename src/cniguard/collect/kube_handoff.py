"""``cniguard kube-export``: one cluster's Kubernetes state written as a folder for hand-off.

The reads are the live path's (:func:`kube_live.read_live_raw`): list forms that answer "none"
when aws-node or aws-auth does not exist (Fargate-only and Auto Mode clusters), so nothing is
left as an empty or half-written file. Beside one ``<part>.json`` List per part, a manifest
(:data:`MANIFEST`) says which parts were read in full and why the others were not; the export
reader honours it, so a part that was read and is empty stays "none", never "unknown".
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cniguard.collect.kube_export import MANIFEST, MANIFEST_SCHEMA
from cniguard.collect.kube_live import RawRead
from cniguard.collect.kube_parse import GAP_WHAT, KIND_FIELDS, KubeField

# names that also map to their resource without the manifest
FILES: dict[KubeField, str] = {
    "daemonsets": "daemonsets.json",
    "service_accounts": "serviceaccounts.json",
    "aws_auth": "aws-auth-configmaps.json",
    "pods": "pods.json",
    "events": "events.json",
    "nodes": "nodes.json",
}


def _write_json(path: Path, data: Any) -> None:
    """Atomically: a reader never sees a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_handoff(raw: RawRead, directory: Path, *, context: str | None) -> dict[str, Any]:
    """Write the parts read and the manifest into ``directory``; returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    by_field = {KIND_FIELDS[kind]: items for kind, items in raw.objects.items()}
    resources: dict[str, dict[str, Any]] = {}
    for field, file_name in FILES.items():
        if field in raw.read:
            items = by_field.get(field, [])
            _write_json(directory / file_name, {"apiVersion": "v1", "kind": "List", "items": items})
            resources[field] = {"read": True, "file": file_name, "objects": len(items)}
            if field == "pods":  # pods.json also holds every Running pod (slim): counts per node
                resources[field]["running_pods"] = raw.running_pods
            continue
        (directory / file_name).unlink(missing_ok=True)  # a stale file from an earlier export
        gaps = [g for g in raw.gaps if g.what == GAP_WHAT[field]]
        resources[field] = {
            "read": False,
            "reason": "; ".join(g.reason for g in gaps) or "not read",
            "operations": [g.operation for g in gaps if g.operation],
        }
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "context": context,
        "collected_at": raw.collected_at,
        "resources": resources,
    }
    _write_json(directory / MANIFEST, manifest)
    return manifest
