"""The live price collector through boto3, against the botocore-validated pricing fake."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from cniguard.collect.aws.calls import new_session
from cniguard.collect.aws.pricing import fetch_prices, priced_inventory
from cniguard.config import Config
from cniguard.engine import evaluate
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


def test_live_prices_feed_the_cost_evidence(aws: FakeAws) -> None:
    _catalogue(aws)
    inv = outage()
    (cluster,) = inv.clusters
    assert cluster.kube is not None and cluster.kube.nodes is not None
    nodes = tuple(
        replace(n, labels={**n.labels, TYPE: t})
        for n, t in zip(cluster.kube.nodes, ("m5.large", "c5.large", "m5.xlarge"), strict=True)
    )
    inv = replace(inv, clusters=(replace(cluster, kube=replace(cluster.kube, nodes=nodes)),))
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
        ["aws-price-list-api@2026-12-06T12:00:00Z", "bundled@2026-12-06"],
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
