"""Rebuild the bundled on-demand price table from Karpenter's generated price files.

Karpenter's AWS provider (github.com/aws/karpenter-provider-aws, Apache-2.0) keeps
``pkg/providers/pricing/zz_generated.pricing_aws*.go``: on-demand prices per region and
instance type, generated from the AWS Price List API (Linux, Shared tenancy, preInstalledSw NA,
capacitystatus Used: the same filters as ``make prices``), with the generation time in a
``// generated at <time> for <region>`` header. This script reads those files from a local
checkout as text (never executes or copies them) and writes
``src/cniguard/cost/prices_<generated date>.json`` with the source repository, path, commit and
date, removing the table it replaces. Regions priced in another currency than USD (the China
file is in CNY) are refused: the bundled table is USD only. Tests never run this.

    python scripts/prices_from_karpenter.py --commit <sha> \\
        ~/karpenter-provider-aws/pkg/providers/pricing/zz_generated.pricing_aws.go \\
        ~/karpenter-provider-aws/pkg/providers/pricing/zz_generated.pricing_aws_us_gov.go
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cniguard" / "cost"
REPO = "github.com/aws/karpenter-provider-aws"
GENERATED = re.compile(r"^// generated at (\d{4}-\d\d-\d\d)T[\d:]+Z for ")
REGION = re.compile(r'^\s*"([a-z]{2}(?:-gov)?-[a-z]+-\d+)": \{\s*$')
PRICE = re.compile(r'"([a-z0-9-]+\.[a-z0-9-]+)": (\d+\.\d+)')
USD_ONLY = re.compile(r"^(?!cn-)")  # China regions are priced in CNY


def parse(path: Path) -> tuple[str, dict[str, dict[str, float]]]:
    """The generation date and the prices (region -> type -> USD/hour) of one generated file."""
    day: str | None = None
    region: str | None = None
    prices: dict[str, dict[str, float]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if (m := GENERATED.match(line)) is not None:
            day = m.group(1)
        elif (m := REGION.match(line)) is not None:
            region = m.group(1)
            if not USD_ONLY.match(region):
                raise SystemExit(f"{path}:{number}: {region} is not priced in USD")
            prices[region] = {}
        elif (found := PRICE.findall(line)) and region is not None:
            prices[region].update({t: float(p) for t, p in found})
    if day is None or not prices or not all(prices.values()):
        raise SystemExit(f"{path}: not a Karpenter generated price file")
    return day, prices


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="zz_generated.pricing_aws*.go")
    parser.add_argument("--commit", required=True, help="the checkout's commit (recorded)")
    args = parser.parse_args()
    days: set[str] = set()
    prices: dict[str, dict[str, float]] = {}
    for path in args.files:
        day, found = parse(path)
        days.add(day)
        for region, by_type in found.items():
            if region in prices:
                raise SystemExit(f"{path}: {region} is also in another file")
            prices[region] = dict(sorted(by_type.items()))
    as_of = min(days)  # the oldest generation date bounds the table's age
    paths = ", ".join(f"pkg/providers/pricing/{p.name}" for p in args.files)
    document = {
        "source": f"{REPO} {paths} @ {args.commit} (generated from the AWS Price List API)",
        "method": "scripts/prices_from_karpenter.py: on-demand Linux, Shared tenancy, "
        "preInstalledSw NA, capacitystatus Used; generated " + ", ".join(sorted(days)),
        "as_of": as_of,
        "currency": "USD",
        "unit": "per instance-hour",
        "prices": dict(sorted(prices.items())),
    }
    target = PACKAGE / f"prices_{as_of}.json"
    target.write_text(json.dumps(document, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    for previous in PACKAGE.glob("prices_*.json"):
        if previous != target:
            previous.unlink()
    count = sum(len(v) for v in prices.values())
    print(f"{target.name}: {count} price(s) in {len(prices)} region(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
