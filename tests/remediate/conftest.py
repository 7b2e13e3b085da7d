"""The loopback moto server of tests/collect_aws, shared by the remediation tests."""

from collect_aws.conftest import aws, fake_endpoint  # noqa: F401
from fakes.sim_fixtures import sim_cluster, sim_cluster_factory  # noqa: F401
