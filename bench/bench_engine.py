"""Evaluation throughput on a generated 10,000-cluster inventory (issue 2: >= 5,000 clusters/s, < 1 GB).

The inventory repeats the demo fleet with distinct ARNs, roles and providers, so no IAM result is
shared between copies: every cluster costs what it would in a real Organization.

    python bench/bench_engine.py [--clusters 10000]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time
from typing import Any

from cniguard.demo import build_fleet, demo_config
from cniguard.engine import evaluate
from cniguard.model.inventory import Inventory


def _rename(value: Any, suffix: str) -> Any:
    """Suffix every role name, cluster name and OIDC id so copies share nothing."""
    if isinstance(value, str):
        if ":role/" in value or ":cluster/" in value or "/id/" in value:
            return value + suffix
        return value
    if isinstance(value, tuple):
        return tuple(_rename(v, suffix) for v in value)
    if isinstance(value, dict):
        return {k if "/id/" not in k else k + suffix: _rename(v, suffix) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, suffix) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value,
            **{f.name: _rename(getattr(value, f.name), suffix) for f in dataclasses.fields(value)},
        )
    return value


def generate(clusters: int) -> Inventory:
    fleet = build_fleet()
    copies = -(-clusters // len(fleet.clusters))
    parts = [_rename(fleet, f"-{i:04d}") for i in range(copies)]
    return dataclasses.replace(
        fleet,
        clusters=tuple(c for p in parts for c in p.clusters)[:clusters],
        roles=tuple(r for p in parts for r in p.roles),
        oidc_providers=tuple(o for p in parts for o in p.oidc_providers),
        cloudtrail_events=tuple(e for p in parts for e in p.cloudtrail_events),
        gaps=tuple(g for p in parts for g in p.gaps),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, default=10_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    inventory = generate(args.clusters)
    built = time.perf_counter() - t0
    config = demo_config()
    evaluate(generate(32), config)  # warm lazy imports and caches outside the timing
    t0 = time.perf_counter()
    report = evaluate(inventory, config)
    elapsed = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"clusters            {len(report.clusters):>10,}")
    print(f"findings            {len(report.findings):>10,}")
    print(f"generate inventory  {built:>10.2f} s")
    print(f"evaluate            {elapsed:>10.2f} s")
    print(
        f"throughput          {len(report.clusters) / elapsed:>10,.0f} clusters/s  (target >= 5,000)"
    )
    print(f"peak RSS            {rss_mb:>10,.0f} MB          (target < 1,024)")


if __name__ == "__main__":
    main()
