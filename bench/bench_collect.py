"""Live collection benchmark: 200 clusters over 4 accounts x 3 regions, every call 50 ms late.

Three processes, so the measured one is the collector alone: a moto server, the loopback fake
(EKS add-on / pod identity / access entry APIs, latency, replay) and this script, the collector.
The fake process builds the fleet straight against moto, one thread per account and region. A
first collection without latency records every answer and is the reference; the timed runs are
then answered from that recording after exactly the injected latency, so moto's own CPU time
(seconds per thousand calls on this machine) does not pose as collector time. ``--live``
forwards the timed runs to moto instead, to show that difference.

Prints wall time, API calls per cluster, the collector's CPU time and the ratio to two lower
bounds: the critical path (calls on the longest dependency chain x latency) and throughput (calls
x latency / the global bound on reads in flight, LANES_IN_FLIGHT x --concurrency). The collector's
CPU time is the third bound: botocore's per-call CPU runs under one GIL. Not part of the test
suite; run with the project's venv:

    .venv/bin/python bench/bench_collect.py [--concurrency 8 16] [--live]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared fakes

from cniguard.collect.live import LANES_IN_FLIGHT, collect_live
from cniguard.collect.options import LiveOptions
from cniguard.model.inventory import Inventory
from fakes import fleet
from fakes.proxy import FakeAws

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
MEMBERS = 3
CLUSTERS = 200
LATENCY = 0.05
# The longest chain of calls that each need an answer of the one before: GetCallerIdentity ->
# ListAccounts -> AssumeRole -> ListClusters -> ListNodegroups -> DescribeNodegroup (node role)
# -> GetPolicy -> GetPolicyVersion of the role's AWS managed policy. The role's attachments come
# from GetAccountAuthorizationDetails, which needs only AssumeRole and GetAccountSummary, so it
# is off this chain; so are DescribeLaunchTemplateVersions (after DescribeNodegroup) and the
# instance path ListClusters -> DescribeInstances -> profile role -> GetPolicy -> GetPolicyVersion.
CRITICAL_PATH_CALLS = 8
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # dummy key for the local fakes
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


# the fake process ---------------------------------------------------------------------------


def build(fake: FakeAws) -> None:
    """The fleet, one builder thread per account and region (moto is the bottleneck)."""
    accounts = [fleet.caller(), *fleet.member_accounts(MEMBERS)]
    slots = [(a, r) for a in accounts for r in REGIONS]

    def slot(index: int) -> None:
        acct, region = slots[index][0].copy(), slots[index][1]
        subnets = fleet.vpc_subnets(acct, region)
        for i in range(index, CLUSTERS, len(slots)):
            fleet.cluster(
                fake,
                acct,
                region,
                f"bench-{i:03d}",
                subnets=subnets,
                karpenter=i % 5 == 0,
                oidc_provider=i < len(slots),
            )

    with ThreadPoolExecutor(len(slots)) as pool:
        list(pool.map(slot, range(len(slots))))


def serve(moto_url: str) -> None:
    """Run the fake in front of moto, build the fleet, announce the URL, serve until stdin ends."""
    moto = urlsplit(moto_url)
    fake = FakeAws(moto.hostname or "127.0.0.1", moto.port or 80).start()
    os.environ.update(DUMMY_ENV, AWS_ENDPOINT_URL=moto_url)  # build without the proxy
    started = time.monotonic()
    build(fake)
    print(f"READY {fake.url} {time.monotonic() - started:.1f}", flush=True)
    sys.stdin.read()
    fake.stop()


# the collector process ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto server did not start")


def start_fake(moto_url: str) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", moto_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    out: IO[str] | None = proc.stdout
    assert out is not None
    for line in out:
        if line.startswith("READY "):
            _, url, seconds = line.split()
            return proc, url, seconds
    raise RuntimeError("the fake process ended before the fleet was built")


def control(url: str, command: str, **settings: Any) -> dict[str, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("POST", f"/_fake/{command}", body=json.dumps(settings).encode())
        result: dict[str, Any] = json.loads(conn.getresponse().read())
        return result
    finally:
        conn.close()


def collect(concurrency: int) -> tuple[Inventory, float, float]:
    options = LiveOptions(regions=REGIONS, org=True, cloudtrail=False, concurrency=concurrency)
    wall, cpu = time.monotonic(), time.process_time()
    inv = collect_live(options)
    return inv, time.monotonic() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[LiveOptions.concurrency])
    parser.add_argument("--live", action="store_true", help="timed runs go to moto, not replay")
    parser.add_argument("--serve", metavar="MOTO_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    moto, moto_url = start_moto()
    fake, url, built = start_fake(moto_url)
    try:
        print(f"built {CLUSTERS} clusters in {built} s")
        os.environ.update(DUMMY_ENV, AWS_ENDPOINT_URL=url)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        control(url, "settings", latency=0, replay="record")
        reference, wall, _ = collect(max(args.concurrency))
        assert len(reference.clusters) == CLUSTERS and not reference.gaps, reference.gaps[:3]
        print(f"reference run through moto without latency: {wall:.2f} s")
        control(url, "settings", latency=LATENCY, replay="off" if args.live else "replay")
        print(
            f"{'concurrency':>11} {'wall s':>7} {'calls':>6} {'calls/cluster':>13} "
            f"{'crit-path s':>11} {'x crit':>6} {'throughput s':>12} {'cpu s':>6} "
            f"{'cpu ms/call':>11}"
        )
        for concurrency in args.concurrency:
            inv, wall, cpu = collect(concurrency)
            traffic = control(url, "traffic")
            assert inv.clusters == reference.clusters and not inv.gaps, inv.gaps[:3]
            assert not traffic["injected"].get("replay-miss"), traffic["injected"]
            calls = int(inv.meta["api_calls_total"])
            critical = CRITICAL_PATH_CALLS * LATENCY
            print(
                f"{concurrency:>11} {wall:>7.2f} {calls:>6} {calls / CLUSTERS:>13.2f} "
                f"{critical:>11.2f} {wall / critical:>6.1f} "
                f"{calls * LATENCY / (LANES_IN_FLIGHT * concurrency):>12.2f} {cpu:>6.2f} "
                f"{1000 * cpu / calls:>11.2f}"
            )
            control(url, "settings")  # fresh traffic counts for the next run
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(timeout=30)
        moto.terminate()
        moto.wait(timeout=30)


if __name__ == "__main__":
    main()
