"""The fallback loader renders every overlay exactly as `kubectl kustomize` does, and refuses
kustomization fields it does not implement instead of ignoring them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.kustomize import DEPLOY, OVERLAYS, KustomizeError, Obj, kubectl, kubectl_render, load


def by_identity(objects: list[Obj]) -> dict[tuple[str, str, str], Obj]:
    return {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects
    }


@pytest.mark.parametrize("directory", [*(f"overlays/{o}" for o in OVERLAYS), "rbac", "base"])
def test_the_loader_renders_as_kubectl_does(directory: str) -> None:
    if kubectl() is None:
        pytest.skip("kubectl is not installed: the loader renders alone here")
    assert by_identity(load(DEPLOY / directory)) == by_identity(kubectl_render(DEPLOY / directory))


def test_the_loader_refuses_fields_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(KustomizeError, match="namePrefix"):
        load(tmp_path)


def test_the_loader_refuses_a_strategic_merge_of_a_list(tmp_path: Path) -> None:
    (tmp_path / "sa.yaml").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n"
    )
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [sa.yaml]\n"
        "patches:\n"
        "  - target: {kind: ServiceAccount, name: a}\n"
        "    patch: |-\n"
        "      kind: ServiceAccount\n"
        "      imagePullSecrets: [{name: x}]\n"
    )
    with pytest.raises(KustomizeError, match="imagePullSecrets"):
        load(tmp_path)
