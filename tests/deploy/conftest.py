"""Rendered overlays of deploy/: by `kubectl kustomize` where kubectl is installed, else by the
loader in kustomize.py (held equal to kubectl by test_kustomize_loader.py)."""

from __future__ import annotations

import pytest

from deploy.kustomize import DEPLOY, OVERLAYS, Obj, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Obj]]:
    """Every overlay's objects, by overlay name."""
    return {name: render(DEPLOY / "overlays" / name) for name in OVERLAYS}
