"""The fake AWS of the live collector's tests, for the live scans of this suite."""

from collect_aws.conftest import aws, fake_endpoint

__all__ = ["aws", "fake_endpoint"]
