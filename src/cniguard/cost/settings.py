"""The ``[cost]`` table of ``cniguard.toml``: price overrides, currency, discount, engineer time.

Example::

    [cost]
    currency = "EUR"                  # a label only: prices are not converted
    discount = 0.28                   # Savings Plans / RIs: list prices x (1 - discount)
    engineer_hourly_rate = 95.0       # engineer time is counted only when this is set
    responders = 2
    live_prices = true                # ask pricing:GetProducts for the scanned nodes' types
    [cost.prices]                     # your own hourly prices, used as given (no discount)
    "m5.large" = 0.071
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cniguard.model.codec import InputError

KNOWN_KEYS = {
    "currency",
    "discount",
    "engineer_hourly_rate",
    "responders",
    "prices",
    "live_prices",
}


@dataclass(frozen=True)
class CostConfig:
    currency: str = "USD"
    discount: float = 0.0  # fraction taken off list prices (0.28 = 28 % off)
    engineer_hourly_rate: float | None = None  # None: engineer time is not counted
    responders: int = 1
    prices: dict[str, float] = field(default_factory=dict)  # instance type -> hourly price
    live_prices: bool = False  # `scan` reads the Price List API (needs pricing:GetProducts)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where} must be a number, not {value!r}")
    return float(value)


def parse_cost(table: dict[str, Any], source: str) -> CostConfig:
    """The ``[cost]`` table; a bad value is one clear error naming it."""
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise InputError(f"{source}: unknown key(s) in [cost]: {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    if "currency" in table:
        currency = table["currency"]
        if not isinstance(currency, str) or not currency.strip():
            raise InputError(f"{source}: cost.currency must be a non-empty string")
        kwargs["currency"] = currency.strip()
    if "discount" in table:
        discount = _number(table["discount"], f"{source}: cost.discount")
        if not 0 <= discount < 1:
            raise InputError(f"{source}: cost.discount must be at least 0 and below 1")
        kwargs["discount"] = discount
    if "engineer_hourly_rate" in table:
        rate = _number(table["engineer_hourly_rate"], f"{source}: cost.engineer_hourly_rate")
        if rate < 0:
            raise InputError(f"{source}: cost.engineer_hourly_rate must not be negative")
        kwargs["engineer_hourly_rate"] = rate
    if "responders" in table:
        responders = table["responders"]
        if isinstance(responders, bool) or not isinstance(responders, int) or responders < 1:
            raise InputError(f"{source}: cost.responders must be a whole number of at least 1")
        kwargs["responders"] = responders
    if "live_prices" in table:
        if not isinstance(table["live_prices"], bool):
            raise InputError(f"{source}: cost.live_prices must be true or false")
        kwargs["live_prices"] = table["live_prices"]
    prices = table.get("prices", {})
    if not isinstance(prices, dict):
        raise InputError(f"{source}: [cost.prices] must be a table of instance type = price")
    parsed: dict[str, float] = {}
    for itype, price in prices.items():
        value = _number(price, f"{source}: cost.prices.{itype}")
        if value < 0:
            raise InputError(f"{source}: cost.prices.{itype} must not be negative")
        parsed[str(itype)] = value
    kwargs["prices"] = parsed
    return CostConfig(**kwargs)
