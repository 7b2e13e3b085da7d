"""`impact` on a generated 1,000-cluster inventory (issue: < 1 s for one change).

Reports the median wall time of ``impact()`` (apply the change, evaluate the touched clusters
before and after, diff) for one change of each kind, then the wall time of the whole CLI
(`cniguard impact --inventory FILE ...`: process start, loading and fingerprinting the inventory).

    python bench/bench_impact.py [--clusters 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_engine import generate  # type: ignore[import-not-found]  # run from bench/
from cniguard.demo import demo_config
from cniguard.model.codec import save_inventory
from cniguard.remediate import changes as ch
from cniguard.remediate.impact import impact

CNI = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
ACCT, DEV = "111111111111", "333333333333"
S = "-0031"  # a copy in the middle of the generated fleet (63 copies of 16)
PROVIDER = (
    f"arn:aws:iam::{ACCT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"
    f"5A1B2C3D4E5F60718293A4B5C6D7E8F9{S}"
)


def _role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}{S}"


# the generator suffixes ARNs, not names: changes name roles and clusters by ARN
CHANGES: dict[str, ch.Change] = {
    "detach (IRSA role)": ch.DetachRolePolicy(_role(ACCT, "payments-prod-vpc-cni"), CNI),
    "detach (node role)": ch.DetachRolePolicy(_role(ACCT, "checkout-prod-node"), CNI),
    "delete inline": ch.DeleteRolePolicy(_role(ACCT, "search-prod-node"), "bootstrap-ec2"),
    "delete role": ch.DeleteRole(_role(DEV, "reporting-dev-vpc-cni")),
    "put boundary": ch.PutRolePermissionsBoundary(
        _role(ACCT, "payments-prod-vpc-cni"), "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
    ),
    "remove from instance profile": ch.RemoveRoleFromInstanceProfile(
        "profile", _role(ACCT, "checkout-prod-node")
    ),
    "delete OIDC provider": ch.DeleteOidcProvider(PROVIDER),
    "update add-on role": ch.UpdateAddon(
        f"arn:aws:eks:us-east-1:{ACCT}:cluster/payments-prod{S}",
        "vpc-cni",
        set_role=True,
        role_arn=None,
    ),
    "new default version of AmazonEKS_CNI_Policy": ch.SetPolicyDocument(CNI, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    inventory = generate(args.clusters)
    config = demo_config()
    impact(generate(32), [CHANGES["detach (IRSA role)"]], config)  # warm imports and caches
    print(f"clusters in inventory  {len(inventory.clusters):,}")
    print(f"{'change':<40}{'touched':>8}{'median s':>10}{'max s':>8}")
    for name, change in CHANGES.items():
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result = impact(inventory, [change], config)
            times.append(time.perf_counter() - t0)
        print(
            f"{name:<40}{len(result.clusters):>8}{statistics.median(times):>10.3f}"
            f"{max(times):>8.3f}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inventory.json"
        save_inventory(inventory, path)
        size = path.stat().st_size / 1e6
        command = [
            sys.executable,
            "-c",
            "from cniguard.cli.main import main; main()",
            "impact",
            "--inventory",
            str(path),
            "--detach",
            f"{_role(ACCT, 'checkout-prod-node')}:{CNI}",
            "--format",
            "json",
        ]
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            done = subprocess.run(command, capture_output=True, check=False)
            times.append(time.perf_counter() - t0)
            assert done.returncode == 1, done.stderr.decode()  # the change breaks checkout-prod
    print(
        f"CLI wall time (process start, load {size:.1f} MB inventory, fingerprint, impact, "
        f"render): median {statistics.median(times):.2f} s of 3"
    )


if __name__ == "__main__":
    main()
