"""Remediation tests run against the loopback fake AWS of tests/collect_aws."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ holds the shared fakes (also used by bench/); pytest runs with --import-mode=importlib,
# which puts nothing on sys.path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collect_aws.conftest import aws, fake_endpoint  # noqa: F401
from fakes.sim_fixtures import sim_cluster, sim_cluster_factory  # noqa: F401
