"""The live price collector through boto3, against the botocore-validated pricing fake."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

from cniguard.collect.aws.calls import new_session
from cniguard.collect.aws.pricing import fetch_prices, priced_inventory
from cniguard.config import Config
from cniguard.engine import evaluate
from cniguard.model.inventory import Inventory
from core.scenarios import outage
from fakes.pricing import ec2_product
from fakes.proxy import FakeAws, Faults

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
TYPE = "node.kubernetes.io/instance-type"


def _catalogue(aws: FakeAws) -> None:
    aws.pricing.products = [
        ec2_product("us-east-1", "m5.large", "0.0960000000"),
        ec2_product("us-east-1", "m5.large", "0.1920000000", operatingSystem="Windows"),
        ec2_product(
            "us-east-1", "m5.large", "0.0000000000", capacitystatus="UnusedCapacityReservation"
        ),
        ec2_product("us-east-1", "m5.large", "0.2000000000", tenancy="Dedicated"),
        ec2_product("eu-west-1", "m5.large", "0.1070000000"),
        ec2_product("us-east-1", "c5.large", "0.0850000000"),
        # two distinct Linux/Shared prices for one type: ambiguous, so no price
        ec2_product("us-east-1", "r5.large", "0.1260000000", licenseModel="A"),
        ec2_product("us-east-1", "r5.large", "0.1300000000", licenseModel="B"),
    ]


def test_get_products_reads_the_linux_shared_on_demand_price(aws: FakeAws) -> None:
    _catalogue(aws)
    wanted = {
        ("us-east-1", "m5.large"),
        ("eu-west-1", "m5.large"),
        ("us-east-1", "r5.large"),
        ("us-east-1", "x9.huge"),
    }
    table, errors = fetch_prices(new_session(region_name="eu-west-1"), wanted, NOW)
    assert (table.label, table.as_of, errors) == ("aws-price-list-api", "2026-12-06T12:00:00Z", [])
    assert table.prices == {"eu-west-1": {"m5.large": 0.107}, "us-east-1": {"m5.large": 0.096}}
    assert aws.traffic.calls["pricing:GetProducts"] == 4
    first = aws.pricing.requests[0]
    assert (first["ServiceCode"], first["FormatVersion"]) == ("AmazonEC2", "aws_v1")
    assert {f["Field"]: f["Value"] for f in first["Filters"]} == {
        "instanceType": "m5.large",
        "regionCode": "eu-west-1",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
    }


def test_pages_are_followed(aws: FakeAws) -> None:
    aws.pricing.products = [ec2_product("us-east-1", "m5.large", "0.0960000000")] * 3
    client = new_session().client("pricing", region_name="us-east-1")
    pages = list(
        client.get_paginator("get_products").paginate(
            ServiceCode="AmazonEC2", PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["PriceList"]) for p in pages] == [2, 1]


def _typed_outage(*types: str) -> Inventory:
    inv = outage()
    (cluster,) = inv.clusters
    assert cluster.kube is not None and cluster.kube.nodes is not None
    nodes = tuple(
        replace(n, labels={**n.labels, TYPE: t})
        for n, t in zip(cluster.kube.nodes, types, strict=True)
    )
    return replace(inv, clusters=(replace(cluster, kube=replace(cluster.kube, nodes=nodes)),))


def test_live_prices_feed_the_cost_evidence(aws: FakeAws) -> None:
    _catalogue(aws)
    inv = _typed_outage("m5.large", "c5.large", "m5.xlarge")
    priced = priced_inventory(inv, new_session(), NOW)
    assert priced.meta["prices"] == {
        "source": "aws-price-list-api",
        "as_of": "2026-12-06T12:00:00Z",
        "prices": {"us-east-1": {"c5.large": 0.085, "m5.large": 0.096}},
        "errors": [],
    }
    block = next(
        f.evidence["cost"] for f in evaluate(priced, Config()).findings if f.rule_id == "CNI031"
    )
    # m5.large 0.096 + c5.large 0.085 live; m5.xlarge not served: the bundled 0.192
    assert (block["not_ready_nodes_per_hour"], block["price_sources"]) == (
        0.373,
        ["aws-price-list-api@2026-12-06T12:00:00Z", "bundled@2026-07-20"],
    )


def test_access_denied_is_recorded_once_and_falls_back(aws: FakeAws) -> None:
    _catalogue(aws)
    aws.faults = Faults(deny_actions=frozenset({"pricing:GetProducts"}))
    table, errors = fetch_prices(
        new_session(), {("us-east-1", "m5.large"), ("us-east-1", "c5.large")}, NOW
    )
    assert table.prices == {}
    assert len(errors) == 1 and errors[0].startswith("us-east-1/c5.large: AccessDeniedException: ")
    assert aws.traffic.calls["pricing:GetProducts"] == 1


def test_scan_reads_live_prices_when_configured(aws: FakeAws, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cniguard.cli.main import app
    from cniguard.model.codec import save_inventory

    _catalogue(aws)
    save_inventory(_typed_outage("m5.large", "m5.large", "c5.large"), tmp_path / "inv.json")
    config = tmp_path / "cniguard.toml"
    config.write_text("[cost]\nlive_prices = true\n", encoding="utf-8")
    args = ["scan", "--inventory", str(tmp_path / "inv.json"), "--format", "json"]

    off = CliRunner().invoke(app, args)
    on = CliRunner().invoke(app, [*args, "--config", str(config)])

    assert (off.exit_code, on.exit_code) == (0, 0), on.output
    assert aws.traffic.calls["pricing:GetProducts"] == 2  # one per type, only when configured
    doc = json.loads(on.stdout)
    assert list(doc["coverage"]["collection"]["prices"]["prices"]) == ["us-east-1"]
    assert doc["kpis"]["cost"]["not_ready_nodes_per_hour"] == 0.277  # 2 x 0.096 + 0.085
    assert doc["kpis"]["cost"]["price_sources"][0].startswith("aws-price-list-api@")
    assert json.loads(off.stdout)["kpis"]["cost"]["price_sources"] == ["bundled@2026-07-20"]


def test_an_unknown_profile_is_an_error_not_a_crash(aws: FakeAws) -> None:
    from cniguard.collect.aws.pricing import live_prices

    priced = live_prices(_typed_outage("m5.large", "c5.large", "m5.xlarge"), "no-such-profile")
    assert priced.meta["prices"]["prices"] == {}
    assert priced.meta["prices"]["errors"] == [
        "ProfileNotFound: The config profile (no-such-profile) could not be found"
    ]
