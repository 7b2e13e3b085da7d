"""Refresh the bundled on-demand price table (``make prices``; never run by the tests).

Reads the AWS Price List Query API (``pricing:GetProducts`` on its us-east-1 endpoint) with the
caller's AWS credentials, through the same collector as live scans (same filters: Linux, Shared
tenancy, no pre-installed software, capacity status Used), for every (region, instance type) of
the current table plus any given with ``--type`` / ``--region``. Writes
``src/cniguard/cost/prices_<UTC date>.json`` recording the source, the method and the date, and
removes the table it replaces. A type the API does not price (or prices ambiguously) keeps its
old price, and the output says so, so a refresh never silently drops a type.

Usage: python scripts/update_prices.py [--region eu-central-1] [--type m7i.large] [--profile p]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from cniguard.collect.aws.calls import new_session
from cniguard.collect.aws.pricing import fetch_prices
from cniguard.cost.prices import bundled_table

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cniguard" / "cost"
SOURCE = (
    "AWS Price List Query API (pricing:GetProducts, service AmazonEC2, us-east-1 endpoint): "
    "on-demand Linux, Shared tenancy, preInstalledSw NA, capacitystatus Used"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", action="append", default=[], help="add a region")
    parser.add_argument("--type", action="append", default=[], help="add an instance type")
    parser.add_argument("--profile", default=None, help="AWS profile to use")
    args = parser.parse_args()
    old = bundled_table()
    regions = sorted({*old.prices, *args.region})
    types = sorted({t for by_type in old.prices.values() for t in by_type} | set(args.type))
    wanted = {(r, t) for r in regions for t in types}
    now = dt.datetime.now(dt.UTC)
    table, errors = fetch_prices(new_session(profile_name=args.profile), wanted, now)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors and not table.prices:
        return 2
    kept = 0
    prices: dict[str, dict[str, float]] = {}
    for region in regions:
        fresh = table.prices.get(region, {})
        stale = {t: p for t, p in old.prices.get(region, {}).items() if t not in fresh}
        kept += len(stale)
        prices[region] = dict(sorted({**stale, **fresh}.items()))
    day = now.date().isoformat()
    document = {
        "source": SOURCE,
        "method": "scripts/update_prices.py"
        + (f"; {kept} price(s) kept from {old.source} (not priced by the API)" if kept else ""),
        "as_of": day,
        "currency": "USD",
        "unit": "per instance-hour",
        "prices": prices,
    }
    target = PACKAGE / f"prices_{day}.json"
    target.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for previous in PACKAGE.glob("prices_*.json"):
        if previous != target:
            previous.unlink()
    fetched = sum(len(v) for v in table.prices.values())
    print(f"{target.name}: {fetched} price(s) from the API, {kept} kept from {old.source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
