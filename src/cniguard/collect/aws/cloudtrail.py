"""CloudTrail management events that can explain a CNI outage (domain.md A3): who removed a
permission, changed a trust policy, rebound the add-on or loosened IMDS, over the last N days.

LookupEvents takes one lookup attribute per call and allows 2 requests per second per account and
region, so each account/region is read by one sequential reader that spaces its calls. IAM is
global and logs in the partition's home region; EKS and EC2 events are regional.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from functools import partial
from typing import Any

from cniguard.collect.aws.context import RunContext
from cniguard.collect.aws.errors import Where
from cniguard.collect.aws.scope import AccountScope
from cniguard.model.common import Origin
from cniguard.model.inventory import CloudTrailEvent, CloudTrailScope

OPERATIONS = ("cloudtrail:LookupEvents",)
IAM_HOME_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
MIN_INTERVAL = 0.5  # seconds between LookupEvents calls: 2 requests/s per account and region
PAGE_SIZE = 50


def iam_home_region(partition: str) -> str:
    return IAM_HOME_REGION.get(partition, "us-east-1")


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def parse_event(raw: dict[str, Any], account: str, region: str) -> CloudTrailEvent:
    detail: dict[str, Any] = {}
    if raw.get("CloudTrailEvent"):
        try:
            loaded = json.loads(raw["CloudTrailEvent"])
            detail = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            detail = {}
    identity = detail.get("userIdentity") or {}
    params = detail.get("requestParameters")
    return CloudTrailEvent(
        event_id=raw["EventId"],
        event_time=_iso(raw.get("EventTime") or detail.get("eventTime")),
        event_name=raw.get("EventName") or detail.get("eventName", ""),
        event_source=raw.get("EventSource") or detail.get("eventSource", ""),
        account=str(detail.get("recipientAccountId") or account),
        region=str(detail.get("awsRegion") or region),
        principal_arn=identity.get("arn"),
        source_ip=detail.get("sourceIPAddress"),
        user_agent=detail.get("userAgent"),
        request_parameters=params if isinstance(params, dict) else None,
        error_code=detail.get("errorCode"),
        origin=Origin("cloudtrail", account, region, api="cloudtrail:LookupEvents"),
    )


class Spacer:
    """Keeps the calls of every reader of one account/region ``interval`` seconds apart."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:  # reserve the next slot, then sleep outside the lock
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


def read_region(
    ctx: RunContext,
    scope: AccountScope,
    region: str,
    event_names: tuple[str, ...],
    window: tuple[dt.datetime, dt.datetime],
) -> tuple[list[CloudTrailEvent], bool]:
    """Events of ``event_names`` in one account/region, and whether every lookup succeeded."""
    client = scope.clients.get("cloudtrail", region)
    spacer = scope.clients.memo.get(("cloudtrail-spacer", region), partial(Spacer, MIN_INTERVAL))
    start, end = window
    events: list[CloudTrailEvent] = []

    def lookup(name: str) -> list[CloudTrailEvent]:
        found: list[CloudTrailEvent] = []
        kwargs: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": PAGE_SIZE,
        }
        while True:
            spacer.wait()
            page = client.lookup_events(**kwargs)
            found.extend(parse_event(e, scope.account, region) for e in page.get("Events", []))
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]

    complete = True
    for name in event_names:
        got = ctx.log.attempt(
            partial(lookup, name),
            what="cloudtrail",
            operation="cloudtrail:LookupEvents",
            where=Where(scope.account, region),
            resource=name,
        )
        if got is None:
            complete = False
        else:
            events.extend(got)
    return events, complete


def scope_of(account: str, region: str, window: tuple[dt.datetime, dt.datetime]) -> CloudTrailScope:
    return CloudTrailScope(account, region, _iso(window[0]), _iso(window[1]))
