"""In-memory EKS add-on / pod identity / access entry APIs and CloudTrail LookupEvents, the parts
moto does not implement, keyed by (account, region) like the real services.

Every request is parsed from the wire and validated against botocore's input shape; every
response is validated against the output shape before it is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fakes.wire import (
    Request,
    Response,
    error_response,
    json_response,
    rest_params,
    service_model,
    validate,
)

EKS_OPERATIONS = frozenset(
    {
        "ListAddons",
        "DescribeAddon",
        "ListPodIdentityAssociations",
        "DescribePodIdentityAssociation",
        "ListAccessEntries",
        "DescribeAccessEntry",
    }
)
CLOUDTRAIL_OPERATIONS = frozenset({"LookupEvents"})
DEFAULT_PAGE = 2  # small on purpose: every list is paginated, as the collector must handle
LOOKUP_RATE = 2.0  # LookupEvents: 2 requests/s per account and region, as a token bucket

Key = tuple[str, str, str]  # account, region, cluster name


@dataclass
class ClusterExtras:
    addons: dict[str, dict[str, Any]] = field(default_factory=dict)
    associations: list[dict[str, Any]] = field(default_factory=list)
    access_entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    # update id -> (the update, the node group or add-on it is about, or "" for the cluster)
    updates: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    next_association: int = 0


@dataclass
class FakeState:
    """What the fake services hold, filled by tests through the helpers below."""

    eks: dict[Key, ClusterExtras] = field(default_factory=dict)
    events: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    lookup_buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    rate_violations: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cluster(self, account: str, region: str, name: str) -> ClusterExtras:
        return self.eks.setdefault((account, region, name), ClusterExtras())

    def add_addon(
        self,
        account: str,
        region: str,
        cluster: str,
        name: str,
        *,
        version: str = "v1.19.0-eksbuild.1",
        role_arn: str | None = None,
        association_arns: tuple[str, ...] = (),
    ) -> None:
        addon: dict[str, Any] = {
            "addonName": name,
            "clusterName": cluster,
            "status": "ACTIVE",
            "addonVersion": version,
            "addonArn": f"arn:aws:eks:{region}:{account}:addon/{cluster}/{name}/fake",
            "podIdentityAssociations": list(association_arns),
        }
        if role_arn is not None:
            addon["serviceAccountRoleArn"] = role_arn
        self.cluster(account, region, cluster).addons[name] = addon

    def add_association(
        self,
        account: str,
        region: str,
        cluster: str,
        *,
        namespace: str,
        service_account: str,
        role_arn: str,
        owner_arn: str | None = None,
    ) -> str:
        extras = self.cluster(account, region, cluster)
        ident = f"a-{extras.next_association:017d}"
        extras.next_association += 1
        arn = f"arn:aws:eks:{region}:{account}:podidentityassociation/{cluster}/{ident}"
        assoc = {
            "clusterName": cluster,
            "namespace": namespace,
            "serviceAccount": service_account,
            "roleArn": role_arn,
            "associationArn": arn,
            "associationId": ident,
            "createdAt": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        }
        if owner_arn is not None:
            assoc["ownerArn"] = owner_arn
        extras.associations.append(assoc)
        return arn

    def add_access_entry(
        self, account: str, region: str, cluster: str, principal: str, entry_type: str
    ) -> None:
        self.cluster(account, region, cluster).access_entries[principal] = {
            "clusterName": cluster,
            "principalArn": principal,
            "type": entry_type,
            "kubernetesGroups": [],
            "username": "system:node:{{EC2PrivateDNSName}}",
            "accessEntryArn": f"arn:aws:eks:{region}:{account}:access-entry/{cluster}/fake",
        }

    def add_event(
        self,
        account: str,
        region: str,
        *,
        name: str,
        source: str,
        when: dt.datetime,
        principal: str,
        params: dict[str, Any],
    ) -> None:
        events = self.events.setdefault((account, region), [])
        detail = {
            "eventVersion": "1.09",
            "eventTime": when.isoformat().replace("+00:00", "Z"),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "AssumedRole", "arn": principal},
            "requestParameters": params,
            "recipientAccountId": account,
        }
        events.append(
            {
                "EventId": f"ev-{len(events):04d}-{account}-{region}",
                "EventName": name,
                "ReadOnly": "false",
                "EventTime": when,
                "EventSource": source,
                "Username": principal.rsplit("/", 1)[-1],
                "Resources": [],
                "CloudTrailEvent": json.dumps(detail),
            }
        )


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    start = int(params.get("nextToken") or params.get("NextToken") or 0)
    size = int(params.get("maxResults") or params.get("MaxResults") or DEFAULT_PAGE)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _paged(key: str, items: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    page, token = _page(items, params)
    out: dict[str, Any] = {key: page}
    if token is not None:
        out["nextToken"] = token
    return out


def _not_found(what: str) -> Response:
    return error_response("eks", "missing", f"No {what} found.", "ResourceNotFoundException", 404)


def handle_eks(
    state: FakeState, request: Request, operation: str, account: str, region: str
) -> Response:
    op = service_model("eks").operation_model(operation)
    params = rest_params(request, "eks", operation)
    validate(op, params, output=False)
    extras = state.cluster(account, region, params["clusterName"])
    body: dict[str, Any]
    if operation == "ListAddons":
        body = _paged("addons", sorted(extras.addons), params)
    elif operation == "DescribeAddon":
        addon = extras.addons.get(params["addonName"])
        if addon is None:
            return _not_found(f"addon: {params['addonName']}")
        body = {"addon": addon}
    elif operation == "ListPodIdentityAssociations":
        matching = [
            {
                k: a[k]
                for k in (
                    "clusterName",
                    "namespace",
                    "serviceAccount",
                    "associationArn",
                    "associationId",
                    "ownerArn",
                )
                if k in a
            }
            for a in extras.associations
            if params.get("namespace") in (None, a["namespace"])
            and params.get("serviceAccount") in (None, a["serviceAccount"])
        ]
        body = _paged("associations", matching, params)
    elif operation == "DescribePodIdentityAssociation":
        found = [a for a in extras.associations if a["associationId"] == params["associationId"]]
        if not found:
            return _not_found("association")
        body = {"association": found[0]}
    elif operation == "ListAccessEntries":
        body = _paged("accessEntries", sorted(extras.access_entries), params)
    else:
        entry = extras.access_entries.get(params["principalArn"])
        if entry is None:
            return _not_found("access entry")
        body = {"accessEntry": entry}
    validate(op, body, output=True)
    return json_response("eks", body)


def handle_cloudtrail(state: FakeState, request: Request, account: str, region: str) -> Response:
    op = service_model("cloudtrail").operation_model("LookupEvents")
    params = json.loads(request.body or b"{}")
    for name in ("StartTime", "EndTime"):
        if name in params:
            params[name] = dt.datetime.fromtimestamp(float(params[name]), dt.UTC)
    validate(op, params, output=False)
    now = time.monotonic()
    with state.lock:  # a bucket of LOOKUP_RATE tokens refilled at LOOKUP_RATE per second
        tokens, last = state.lookup_buckets.get((account, region), (LOOKUP_RATE, now))
        tokens = min(LOOKUP_RATE, tokens + (now - last) * LOOKUP_RATE)
        if tokens < 1:
            state.rate_violations.append((account, region))
        state.lookup_buckets[(account, region)] = (max(0.0, tokens - 1), now)
    attributes = params.get("LookupAttributes", [])
    if len(attributes) > 1:
        return error_response(
            "cloudtrail",
            "invalid",
            "Only one lookup attribute is allowed.",
            "InvalidLookupAttributesException",
            400,
        )
    events = state.events.get((account, region), [])
    if attributes:
        key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
        events = [e for e in events if e.get(key) == value]
    start = params.get("StartTime", dt.datetime.min.replace(tzinfo=dt.UTC))
    end = params.get("EndTime", dt.datetime.max.replace(tzinfo=dt.UTC))
    events = sorted(
        (e for e in events if start <= e["EventTime"] <= end),
        key=lambda e: e["EventTime"],
        reverse=True,
    )
    page, token = _page(events, params)
    body: dict[str, Any] = {"Events": page}
    if token is not None:
        body["NextToken"] = token
    validate(op, body, output=True)
    return json_response("cloudtrail", body)
