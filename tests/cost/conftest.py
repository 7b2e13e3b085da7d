"""The fake AWS endpoint of tests/collect_aws, for the live price collector."""

from collect_aws.conftest import aws, fake_endpoint

__all__ = ["aws", "fake_endpoint"]
