"""On-demand prices of the instance types a scan found, read live from the AWS Price List API.

``pricing:GetProducts`` is served in us-east-1 only (it answers for every region). One query per
(region, instance type), filtered to the on-demand Linux price that the bundled table also holds:
Shared tenancy, no pre-installed software, capacity status Used. A product list that names more
than one distinct price, or none, leaves that type to the next source (``cost/prices.py``): a
price is never guessed. The table is kept in the inventory (``meta["prices"]``, with its time),
so the stored report records which prices its figures used. A failed query is recorded there
too (``errors``), not as a coverage gap: a missing price makes a cost unknown, not an IAM verdict.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cniguard.collect.aws.calls import new_session
from cniguard.collect.aws.errors import error_code
from cniguard.cost.incident import REGION_LABEL, instance_type
from cniguard.cost.prices import META_KEY, PriceTable
from cniguard.model.inventory import Inventory

PRICING_REGION = "us-east-1"
DENIED = ("AccessDenied", "AccessDeniedException")
FIXED_FILTERS = (
    ("operatingSystem", "Linux"),
    ("tenancy", "Shared"),
    ("preInstalledSw", "NA"),
    ("capacitystatus", "Used"),
)


def _filters(region: str, itype: str) -> list[dict[str, str]]:
    pairs = (("instanceType", itype), ("regionCode", region), *FIXED_FILTERS)
    return [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in pairs]


def on_demand_usd(item: str | dict[str, Any]) -> set[float]:
    """The hourly USD on-demand prices one PriceList entry states (0 is not a price)."""
    product = json.loads(item) if isinstance(item, str) else item
    found: set[float] = set()
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            usd = dim.get("pricePerUnit", {}).get("USD")
            if dim.get("unit") == "Hrs" and usd is not None and float(usd) > 0:
                found.add(float(usd))
    return found


def wanted_types(inventory: Inventory) -> set[tuple[str, str]]:
    """(region, instance type) of every node the scan read."""
    wanted: set[tuple[str, str]] = set()
    for cluster in inventory.clusters:
        for node in (cluster.kube.nodes or ()) if cluster.kube else ():
            itype = instance_type(node)
            if itype:
                wanted.add((node.labels.get(REGION_LABEL) or cluster.region, itype))
    return wanted


def fetch_prices(
    session: boto3.Session, wanted: Iterable[tuple[str, str]], now: dt.datetime
) -> tuple[PriceTable, list[str]]:
    """Prices of ``wanted`` (region, instance type) pairs, and the errors met (never a price)."""
    prices: dict[str, dict[str, float]] = {}
    errors: list[str] = []
    stamp = now.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    try:
        client = session.client(
            "pricing",
            region_name=PRICING_REGION,
            config=Config(retries={"mode": "adaptive", "max_attempts": 6}),
        )
    except BotoCoreError as exc:  # e.g. an unknown profile: no price, and say why
        return PriceTable("aws-price-list-api", stamp, prices), [f"{type(exc).__name__}: {exc}"]
    paginator = client.get_paginator("get_products")
    for region, itype in sorted(set(wanted)):
        found: set[float] = set()
        try:
            for page in paginator.paginate(
                ServiceCode="AmazonEC2", Filters=_filters(region, itype), FormatVersion="aws_v1"
            ):
                for item in page.get("PriceList", []):
                    found |= on_demand_usd(item)
        except (ClientError, BotoCoreError) as exc:
            errors.append(f"{region}/{itype}: {error_code(exc)}: {exc}")
            if error_code(exc) in DENIED:
                break  # denied once is denied for every type: do not repeat the call
            continue
        if len(found) == 1:
            prices.setdefault(region, {})[itype] = found.pop()
    return PriceTable("aws-price-list-api", stamp, prices), errors


def priced_inventory(inventory: Inventory, session: boto3.Session, now: dt.datetime) -> Inventory:
    """The inventory with the live prices of its nodes' types (and the errors met) recorded."""
    wanted = wanted_types(inventory)
    if not wanted:
        return inventory
    table, errors = fetch_prices(session, wanted, now)
    meta = {**inventory.meta, META_KEY: {**table.to_json(), "errors": errors}}
    return replace(inventory, meta=meta)


def live_prices(inventory: Inventory, profile: str | None) -> Inventory:
    """``priced_inventory`` with the caller's credentials (``[cost] live_prices = true``)."""
    return priced_inventory(inventory, new_session(profile_name=profile), dt.datetime.now(dt.UTC))
