"""On-demand hourly prices of EC2 instance types, and which source each one came from.

Precedence: ``[cost.prices]`` from the configuration (used as given), then a price list read
live from the AWS Price List API (kept in the inventory's ``meta["prices"]``), then the bundled
dated table. List prices (live or bundled) are USD and take the configured discount. A type none
of them knows has no price: the figures built on it are unknown, never 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from importlib import resources
from typing import Any

from cniguard.cost.settings import CostConfig

BUNDLED_GLOB = "prices_*.json"  # one dated table; `make prices` replaces it
LIST_CURRENCY = "USD"
META_KEY = "prices"  # Inventory.meta key of a live price list


@dataclass(frozen=True)
class Price:
    hourly: float | None  # what one instance-hour costs after discount; None: unknown
    source: str  # "config", "aws-price-list-api@<when>", "bundled@<date>" or "unknown"


@dataclass(frozen=True)
class PriceTable:
    """List prices (USD per instance-hour) by region and instance type, from one dated source."""

    label: str  # "bundled" | "aws-price-list-api"
    as_of: str
    prices: dict[str, dict[str, float]]

    @property
    def source(self) -> str:
        return f"{self.label}@{self.as_of}"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.label, "as_of": self.as_of, "prices": self.prices}


def table_from_json(data: Any, label: str | None = None) -> PriceTable | None:
    """A price table from its JSON form; None when the document is not one (never a guess)."""
    if not isinstance(data, dict):
        return None
    raw = data.get("prices")
    as_of = data.get("as_of")
    if not isinstance(raw, dict) or not isinstance(as_of, str):
        return None
    prices: dict[str, dict[str, float]] = {}
    for region, by_type in raw.items():
        if not isinstance(by_type, dict):
            return None
        prices[str(region)] = {
            str(t): float(p)
            for t, p in by_type.items()
            if isinstance(p, int | float) and not isinstance(p, bool) and p >= 0
        }
    return PriceTable(label or str(data.get("source", "unknown")), as_of, prices)


@cache
def bundled_table() -> PriceTable:
    """The newest dated table shipped in the package."""
    files = [f for f in resources.files("cniguard.cost").iterdir() if fnmatch(f.name, BUNDLED_GLOB)]
    newest = max(files, key=lambda f: f.name)
    table = table_from_json(json.loads(newest.read_text(encoding="utf-8")), "bundled")
    if table is None:  # the package's own file: a broken one is a build error
        raise ValueError(f"{newest.name} is not a price table")
    return table


class PriceBook:
    """Looks prices up in precedence order and says where each came from."""

    def __init__(
        self, config: CostConfig, live: PriceTable | None = None, bundled: PriceTable | None = None
    ) -> None:
        self.config = config
        self.tables = [t for t in (live, bundled or bundled_table()) if t is not None]

    @classmethod
    def for_inventory(cls, config: CostConfig, meta: dict[str, Any]) -> PriceBook:
        return cls(config, table_from_json(meta.get(META_KEY), "aws-price-list-api"))

    def price(self, region: str | None, instance_type: str | None) -> Price:
        if not instance_type:
            return Price(None, "unknown")
        own = self.config.prices.get(instance_type)
        if own is not None:
            return Price(own, "config")
        if self.config.currency != LIST_CURRENCY or region is None:
            return Price(None, "unknown")  # list prices are USD; never relabel them
        for table in self.tables:
            listed = table.prices.get(region, {}).get(instance_type)
            if listed is not None:
                return Price(round(listed * (1 - self.config.discount), 6), table.source)
        return Price(None, "unknown")
