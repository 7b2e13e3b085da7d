"""Export tests: small reports built here, and the loopback fake AWS of tests/collect_aws."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ holds the shared fakes; pytest runs with --import-mode=importlib (nothing on sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collect_aws.conftest import aws, fake_endpoint

__all__ = ["aws", "fake_endpoint"]
