"""Rendering deploy/ overlays: `kubectl kustomize` when kubectl is installed, else a small loader.

PyPI has no kustomize and Debian's kubectl (1.20) predates the kustomization fields used here, so
the tests must also run where no recent kubectl exists. The loader implements exactly the fields
deploy/ uses (resources, namespace, labels, images, patches: strategic-merge maps and JSON 6902)
and rejects any other, so it cannot drift silently; where kubectl exists a test holds its output
equal to kubectl's for every overlay.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

Obj = dict[str, Any]
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OVERLAYS = ("irsa", "pod-identity", "org-sharded")
KNOWN_FIELDS = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


class KustomizeError(Exception):
    """A kustomization this loader does not implement."""


def kubectl() -> str | None:
    return shutil.which("kubectl")


def kubectl_render(directory: Path) -> list[Obj]:
    """`kubectl kustomize DIR`, parsed."""
    binary = kubectl()
    if binary is None:
        raise KustomizeError("kubectl is not installed")
    out = subprocess.run(
        [binary, "kustomize", str(directory)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def load(directory: Path) -> list[Obj]:
    """The objects the kustomization in ``directory`` builds."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - KNOWN_FIELDS
    if unknown:
        raise KustomizeError(f"{directory}: fields this loader does not implement: {unknown}")
    objects: list[Obj] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects.extend(load(path))
        else:
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    for patch in spec.get("patches", []):
        objects = [_patched(o, patch) for o in objects]
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = spec["namespace"]
    for label in spec.get("labels", []):
        if set(label) != {"pairs"}:
            raise KustomizeError(f"{directory}: labels options {set(label) - {'pairs'}}")
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(label["pairs"])
    for image in spec.get("images", []):
        for obj in objects:
            _set_image(obj, image)
    return objects


def _patched(obj: Obj, patch: Obj) -> Obj:
    target = patch["target"]
    if set(target) - {"kind", "name"}:
        raise KustomizeError(f"patch target fields {set(target) - {'kind', 'name'}}")
    if obj["kind"] != target["kind"] or obj["metadata"]["name"] != target["name"]:
        return obj
    body = yaml.safe_load(patch["patch"])
    if isinstance(body, list):
        result: Obj = jsonpatch.apply_patch(obj, body)
        return result
    merged = copy.deepcopy(obj)
    _merge(merged, body)
    return merged


def _merge(into: Obj, patch: Obj) -> None:
    """A strategic merge of maps; lists would need merge keys, which this loader does not do."""
    for key, value in patch.items():
        if isinstance(value, list):
            raise KustomizeError(f"strategic-merge patch of the list {key!r}")
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _set_image(obj: Obj, image: Obj) -> None:
    path = POD_TEMPLATE_PATHS.get(obj["kind"])
    if path is None:
        return
    template = obj
    for key in path:
        template = template[key]
    for container in template["spec"]["containers"]:
        if container["image"] == image["name"]:
            container["image"] = f"{image['newName']}:{image['newTag']}"


def render(directory: Path) -> list[Obj]:
    """kubectl's rendering where kubectl is installed, else the loader's."""
    return kubectl_render(directory) if kubectl() else load(directory)


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]
