"""Query parameters of the pages and the API: unknown ones rejected, every value bounded.

A filter a client misspells must not silently widen the answer, and a value that would overflow
a date or the database (``since=99999999d``, a huge offset) is a 422, never a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import cast

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from cniguard.model.finding import SEVERITIES
from cniguard.store.finding_search import (
    FINDING_SORTS,
    LISTED_STATES,
    FindingFilter,
    FindingSort,
    IncidentFilter,
    IncidentState,
    ListedState,
)
from cniguard.store.timespan import parse_duration

MAX_WINDOW = dt.timedelta(days=36_500)
MAX_OFFSET = 1_000_000
MAX_PAGE = 10_000
MAX_VALUES = 20  # repeated values of one parameter
RULE_ID = re.compile(r"^[A-Z]{2,8}\d{1,5}$")
YES = ("yes", "true", "1")
NO = ("no", "false", "0")


def reject_unknown_params(request: Request) -> None:
    """Dependency of every route: a query parameter the route does not declare is a 422."""
    route = request.scope.get("route")
    allowed: set[str] = set()
    if isinstance(route, APIRoute):
        allowed = query_names(route.dependant)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": f"unknown query parameter; known: {', '.join(sorted(allowed)) or 'none'}",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


def query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route declares, its dependencies' included."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return names


def bad(detail: str) -> HTTPException:
    return HTTPException(status_code=422, detail=detail)


def window(since: str) -> dt.timedelta:
    """A KPI window such as ``30d``: at most 100 years, so a date never overflows."""
    try:
        span = parse_duration(since)
    except (ValueError, OverflowError) as exc:
        raise bad(f"since: {exc}") from None
    if span > MAX_WINDOW:
        raise bad(f"since: {since!r} is longer than {MAX_WINDOW.days} days")
    return span


def given(values: Sequence[str] | None) -> list[str]:
    """Non-empty values (a form's "any" choice sends an empty one)."""
    found = [v for v in values or () if v]
    if len(found) > MAX_VALUES:
        raise bad(f"at most {MAX_VALUES} values per parameter")
    return found


def one_of(name: str, values: Sequence[str] | None, allowed: Sequence[str]) -> tuple[str, ...]:
    found = given(values)
    for value in found:
        if value not in allowed:
            raise bad(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return tuple(found)


def yes_no(name: str, value: str | None) -> bool | None:
    if not value:
        return None
    if value.lower() in YES:
        return True
    if value.lower() in NO:
        return False
    raise bad(f"{name}: {value!r} is not yes or no")


def text(value: str | None) -> str | None:
    if value is not None and len(value) > 512:
        raise bad("a filter value is longer than 512 characters")
    return value or None


def rule_ids(values: Sequence[str] | None) -> list[str]:
    """Rule ids, repeated or typed into one field apart by spaces or commas."""
    found = [r.upper() for v in given(values) for r in re.split(r"[\s,]+", v) if r]
    for rule_id in found:
        if not RULE_ID.match(rule_id):
            raise bad(f"rule: {rule_id!r} is not a rule id such as CNI002")
    return given(found)


def finding_filter(
    *,
    state: Sequence[str] | None,
    severity: Sequence[str] | None,
    rule: Sequence[str] | None,
    account: str | None,
    region: str | None,
    environment: str | None,
    production: str | None,
    cluster: str | None,
    name: str | None,
    sort: str | None,
) -> FindingFilter:
    """The filter from raw parameters; no ``state`` means open, ``all`` means every state."""
    states = given(state) or ["open"]
    if "all" in states:
        states = list(LISTED_STATES)
    rules = rule_ids(rule)
    return FindingFilter(
        states=cast(tuple[ListedState, ...], one_of("state", states, LISTED_STATES)),
        severities=one_of("severity", severity, SEVERITIES),
        rules=tuple(rules),
        account=text(account),
        region=text(region),
        environment=text(environment),
        production=yes_no("production", production),
        cluster=text(cluster),
        name=text(name),
        sort=cast(FindingSort, (one_of("sort", [sort or "severity"], FINDING_SORTS))[0]),
    )


def incident_filter(
    *,
    state: str | None,
    severity: Sequence[str] | None,
    rule: Sequence[str] | None,
    cluster: str | None,
    since: str | None,
    mttr: str | None,
    now: dt.datetime,
) -> IncidentFilter:
    states: tuple[IncidentState, ...] = ("open", "resolved", "all")
    chosen = one_of("state", [state or "all"], states)[0]
    rules = rule_ids(rule)
    return IncidentFilter(
        state=cast(IncidentState, chosen),
        rules=tuple(rules),
        severities=one_of("severity", severity, SEVERITIES),
        cluster=text(cluster),
        since=now - window(since) if since else None,
        mttr=bool(yes_no("mttr", mttr)),
    )


def kept(request: Request, *dropped: str) -> list[tuple[str, str]]:
    """The request's non-empty parameters but ``dropped``: links to other pages keep filters."""
    return [(k, v) for k, v in request.query_params.multi_items() if v and k not in dropped]
