"""Live collection benchmark: 200 clusters over 4 accounts x 3 regions on moto behind a loopback
proxy adding 50 ms to every call. Prints wall time, API calls per cluster and the ratio to two
lower bounds: the critical path (calls on the longest dependency chain x latency) and throughput
(calls x latency / concurrency). Not part of the test suite; run with the project's venv:

    .venv/bin/python bench/bench_collect.py [--concurrency 16 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared fakes

from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from fakes import fleet
from fakes.proxy import FakeAws, start_moto

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
CLUSTERS = 200
LATENCY = 0.05
# GetCallerIdentity -> ListAccounts -> AssumeRole -> ListClusters -> ListNodegroups ->
# DescribeNodegroup -> DescribeLaunchTemplateVersions -> GetAccountAuthorizationDetails ->
# GetPolicy -> GetPolicyVersion: the longest chain of calls that each need the one before
CRITICAL_PATH_CALLS = 10


def build(fake: FakeAws) -> None:
    accounts = [fleet.caller(), *fleet.member_accounts(3)]
    slots = [(a, r) for a in accounts for r in REGIONS]
    subnets = {(a.account, r): fleet.vpc_subnets(a, r) for a, r in slots}
    for i in range(CLUSTERS):
        acct, region = slots[i % len(slots)]
        fleet.cluster(
            fake,
            acct,
            region,
            f"bench-{i:03d}",
            subnets=subnets[(acct.account, region)],
            karpenter=i % 5 == 0,
            oidc_provider=i < len(slots),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16])
    args = parser.parse_args()
    moto = start_moto()
    host, port = moto.get_host_and_port()
    fake = FakeAws(host, port).start()
    os.environ.update(
        AWS_ENDPOINT_URL=fake.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 (dummy key for the local fake)
        AWS_DEFAULT_REGION="us-east-1",
    )
    started = time.monotonic()
    build(fake)
    print(f"built {CLUSTERS} clusters in {time.monotonic() - started:.1f} s")
    fake.faults.latency = LATENCY
    print(
        f"{'concurrency':>11} {'wall s':>7} {'calls':>6} {'calls/cluster':>13} "
        f"{'crit-path s':>11} {'x crit':>6} {'throughput s':>12} {'x max bound':>11}"
    )
    for concurrency in args.concurrency:
        options = LiveOptions(regions=REGIONS, org=True, cloudtrail=False, concurrency=concurrency)
        started = time.monotonic()
        inv = collect_live(options)
        wall = time.monotonic() - started
        assert len(inv.clusters) == CLUSTERS and not inv.gaps, (len(inv.clusters), inv.gaps[:3])
        calls = int(inv.meta["api_calls_total"])
        critical = CRITICAL_PATH_CALLS * LATENCY
        throughput = calls * LATENCY / concurrency
        print(
            f"{concurrency:>11} {wall:>7.2f} {calls:>6} {calls / CLUSTERS:>13.2f} "
            f"{critical:>11.2f} {wall / critical:>6.1f} {throughput:>12.2f} "
            f"{wall / max(critical, throughput):>11.2f}"
        )
    fake.stop()
    moto.stop()


if __name__ == "__main__":
    main()
