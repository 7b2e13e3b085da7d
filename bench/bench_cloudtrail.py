"""CloudTrail cost of a live scan: LookupEvents calls per account with clusters in 1, 4 and 17
regions (all 17 regions scanned each time), and the time the trail takes at 2 calls/s.

LookupEvents answers one lookup attribute per call and 2 calls per second per account and region
(the fake enforces that bucket and records violations), so the trail, not the EKS/IAM reads, is
a live scan's critical path. Runs moto and the loopback fake in this process; not part of the
test suite:

    .venv/bin/python bench/bench_cloudtrail.py

Measured (one account, 17 regions scanned, 7-day window; no cut made yet, see below):

    regions with clusters | LookupEvents calls / account | collect seconds | rate violations
                        1 |                           26 |            13.8 |               0
                        4 |                           65 |            13.6 |               0
                       17 |                          234 |            14.2 |               0

13 regional event names per region with clusters (regions without clusters are already skipped)
plus 13 IAM event names once per account in us-east-1; us-east-1 carries both, so its bucket
(26 calls at 2/s, 13 s) is the critical path. Lookups by ``ResourceName`` for the fleet's few
roles and providers would cut the IAM part (3 lookups instead of 13 for one cluster) but are not
made: which name CloudTrail records as each IAM event's resource (role name or ARN, and for OIDC
providers) is not verified, and a wrong guess would lose events silently.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared fakes

from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from fakes import fleet
from fakes.proxy import FakeAws, reset_moto, start_moto

REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1",
)  # fmt: skip


DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # dummy key for the local fakes
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def measure(fake: FakeAws, with_clusters: int) -> tuple[int, float, int]:
    """(LookupEvents calls, seconds of the collection, rate violations) for one account."""
    reset_moto(*fake.moto)
    fake.reset()
    acct = fleet.caller()
    for region in REGIONS[:with_clusters]:
        subnets = fleet.vpc_subnets(acct, region)
        fleet.cluster(fake, acct, region, f"c-{region}", subnets=subnets)
    fake.traffic.calls.clear()
    started = time.monotonic()
    collect_live(LiveOptions(regions=REGIONS, cloudtrail_days=7, quiet=True))
    seconds = time.monotonic() - started
    calls = fake.traffic.calls["cloudtrail:LookupEvents"]
    return calls, seconds, len(fake.state.rate_violations)


def main() -> None:
    moto = start_moto()
    fake = FakeAws(*moto.get_host_and_port()).start()
    os.environ.update({"AWS_ENDPOINT_URL": fake.url, **DUMMY_ENV})
    print(
        "regions with clusters | LookupEvents calls / account | collect seconds | rate violations"
    )
    try:
        for count in (1, 4, 17):
            calls, seconds, violations = measure(fake, count)
            print(f"{count:>21} | {calls:>28} | {seconds:>15.1f} | {violations:>15}")
    finally:
        fake.stop()
        moto.stop()


if __name__ == "__main__":
    main()
