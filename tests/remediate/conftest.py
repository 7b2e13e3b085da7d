"""The moto server + EKS fakes of tests/collect_aws, for live remediation tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collect_aws.conftest import aws, fake_endpoint  # noqa: F401
