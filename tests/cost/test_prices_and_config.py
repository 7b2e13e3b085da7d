"""Price look-ups: precedence, discount, currency, and unknown never becoming 0."""

from __future__ import annotations

import pytest

from cniguard.config import parse_config
from cniguard.cost.prices import Price, PriceBook, PriceTable, bundled_table
from cniguard.cost.settings import CostConfig
from cniguard.model.codec import InputError

LIVE = PriceTable("aws-price-list-api", "2026-12-06T10:00:00Z", {"us-east-1": {"m5.large": 0.1}})


def test_the_bundled_table_is_dated_and_names_its_source() -> None:
    table = bundled_table()
    assert (table.label, table.as_of, table.source) == (
        "bundled",
        "2026-07-20",  # the generation date in Karpenter's zz_generated.pricing_aws*.go headers
        "bundled@2026-07-20",
    )
    # Karpenter's files hold us-east-1 and the two GovCloud regions (China is in CNY: left out)
    assert sorted(table.prices) == ["us-east-1", "us-gov-east-1", "us-gov-west-1"]
    assert table.prices["us-east-1"]["m5.large"] == 0.096
    assert table.prices["us-gov-west-1"]["m5.large"] == 0.121


def test_precedence_config_then_live_then_bundled_then_unknown() -> None:
    book = PriceBook(CostConfig(prices={"c5.large": 0.05}), live=LIVE)
    assert [
        book.price("us-east-1", "c5.large"),  # configured: used as given
        book.price("us-east-1", "m5.large"),  # live price list
        book.price("us-east-1", "m5.xlarge"),  # bundled table
        book.price("us-east-1", "x9.huge"),  # nobody knows it
        book.price("eu-west-1", "m5.large"),  # a region no table holds
        book.price("us-east-1", None),  # no instance-type label
    ] == [
        Price(0.05, "config"),
        Price(0.1, "aws-price-list-api@2026-12-06T10:00:00Z"),
        Price(0.192, "bundled@2026-07-20"),
        Price(None, "unknown"),
        Price(None, "unknown"),
        Price(None, "unknown"),
    ]


def test_discount_applies_to_list_prices_not_to_configured_ones() -> None:
    book = PriceBook(CostConfig(discount=0.25, prices={"c5.large": 0.05}))
    assert book.price("us-east-1", "m5.large") == Price(0.072, "bundled@2026-07-20")
    assert book.price("us-east-1", "c5.large") == Price(0.05, "config")


def test_another_currency_never_relabels_usd_list_prices() -> None:
    book = PriceBook(CostConfig(currency="EUR", prices={"c5.large": 0.08}))
    assert book.price("us-east-1", "m5.large") == Price(None, "unknown")
    assert book.price("us-east-1", "c5.large") == Price(0.08, "config")


def test_cost_table_parses_and_defaults_to_no_engineer_time() -> None:
    assert parse_config({}).cost == CostConfig()
    assert CostConfig().engineer_hourly_rate is None
    cfg = parse_config(
        {
            "cost": {
                "currency": "EUR",
                "discount": 0.3,
                "engineer_hourly_rate": 90,
                "responders": 3,
                "prices": {"m5.large": 0.09},
            }
        }
    ).cost
    assert cfg == CostConfig("EUR", 0.3, 90.0, 3, {"m5.large": 0.09})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"discount": 1.2}, "cfg: cost.discount must be at least 0 and below 1"),
        ({"discount": "10%"}, "cfg: cost.discount must be a number, not '10%'"),
        ({"responders": 0}, "cfg: cost.responders must be a whole number of at least 1"),
        ({"engineer_hourly_rate": -5}, "cfg: cost.engineer_hourly_rate must not be negative"),
        (
            {"prices": {"m5.large": "cheap"}},
            "cfg: cost.prices.m5.large must be a number, not 'cheap'",
        ),
        ({"prices": []}, "cfg: [cost.prices] must be a table of instance type = price"),
        ({"currency": ""}, "cfg: cost.currency must be a non-empty string"),
        ({"rate": 1}, "cfg: unknown key(s) in [cost]: rate"),
        ({"live_prices": "yes"}, "cfg: cost.live_prices must be true or false"),
    ],
)
def test_a_bad_cost_value_is_one_clear_error(table: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_config({"cost": table}, "cfg")
    assert str(raised.value) == message
