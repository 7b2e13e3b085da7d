"""Remediation tests run against the loopback fake AWS of tests/collect_aws."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# tests/ holds the shared fakes (also used by bench/); pytest runs with --import-mode=importlib,
# which puts nothing on sys.path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collect_aws.conftest import aws, fake_endpoint  # noqa: F401
from fakes.sim_fixtures import sim_cluster, sim_cluster_factory  # noqa: F401


@pytest.fixture
def kubeconfig(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """``use(path)``: make ``path`` the default kubeconfig (of this process and its children)."""

    def use(path: Path) -> None:
        # the client reads $KUBECONFIG once, at import: point its default at the file too
        monkeypatch.setenv("KUBECONFIG", str(path))
        monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(path))

    return use
