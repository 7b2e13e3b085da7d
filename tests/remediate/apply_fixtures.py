"""The moto server behind the loopback proxy for apply's tests (the collectors' fixtures, reused).

Imported by apply's test modules (``from remediate.apply_fixtures import aws, fake_endpoint``) so
this folder needs no conftest of its own.
"""

from __future__ import annotations

from collect_aws.conftest import aws, fake_endpoint

__all__ = ["aws", "fake_endpoint"]
