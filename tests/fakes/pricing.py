"""A fake AWS Price List API (``pricing:GetProducts``), which moto does not serve.

Requests and responses are checked against botocore's model of the operation, so the collector
is tested against the wire shape boto3 really sends and parses. Filters are TERM_MATCH on product
attributes, as the real API applies them; pages follow ``MaxResults`` / ``NextToken``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from fakes.wire import Request, Response, error_response, json_response, service_model, validate

PRICING_OPERATIONS = ("GetProducts",)
DEFAULT_PAGE = 100


def ec2_product(region: str, instance_type: str, usd: str, **attributes: str) -> dict[str, Any]:
    """One AmazonEC2 product in the ``aws_v1`` price list format, with one on-demand price."""
    attrs = {
        "servicecode": "AmazonEC2",
        "instanceType": instance_type,
        "regionCode": region,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required",
        **attributes,
    }
    sku = hashlib.sha256(json.dumps(attrs, sort_keys=True).encode()).hexdigest()[:16].upper()
    return {
        "product": {"productFamily": "Compute Instance", "attributes": attrs, "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                f"{sku}.JRTCKXETXF": {
                    "offerTermCode": "JRTCKXETXF",
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "priceDimensions": {
                        f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "beginRange": "0",
                            "description": f"${usd} per On Demand Linux {instance_type} Instance Hour",
                            "pricePerUnit": {"USD": usd},
                            "appliesTo": [],
                            "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                        }
                    },
                    "termAttributes": {},
                }
            }
        },
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
    }


@dataclass
class FakePricing:
    products: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # validated GetProducts inputs

    def handle(self, request: Request, operation: str | None) -> Response:
        if operation not in PRICING_OPERATIONS:
            return error_response("pricing", "invalid", f"{operation} is not faked")
        op = service_model("pricing").operation_model("GetProducts")
        params = json.loads(request.body or b"{}")
        validate(op, params, output=False)
        self.requests.append(params)
        matching = [p for p in self.products if self._matches(p, params)]
        start = int(params.get("NextToken", "0"))
        size = params.get("MaxResults", DEFAULT_PAGE)
        body: dict[str, Any] = {
            "FormatVersion": params.get("FormatVersion", "aws_v1"),
            "PriceList": [json.dumps(p) for p in matching[start : start + size]],
        }
        if start + size < len(matching):
            body["NextToken"] = str(start + size)
        validate(op, body, output=True)
        return json_response("pricing", body)

    @staticmethod
    def _matches(product: dict[str, Any], params: dict[str, Any]) -> bool:
        if product["serviceCode"] != params["ServiceCode"]:
            return False
        attrs = product["product"]["attributes"]
        return all(
            f["Type"] == "TERM_MATCH" and attrs.get(f["Field"]) == f["Value"]
            for f in params.get("Filters", [])
        )
