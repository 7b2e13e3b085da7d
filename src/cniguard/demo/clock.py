"""The demo fleet moved to another moment, so a stored demo is always recent.

The fleet is built at the fixed moment ``DEMO_NOW`` (reproducible reports and tests); the `demo`
command moves every timestamp in it, and the suppressions' expiry dates, by the same amount, so
what the rules conclude does not change while the stored scans land inside any "last N days".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from cniguard.config import Config
from cniguard.demo.fleet import DEMO_NOW
from cniguard.model.inventory import Inventory

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


def parse_instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def instant_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def moved_inventory(inventory: Inventory, now: dt.datetime) -> Inventory:
    """``inventory`` (built at ``DEMO_NOW``) with every ISO-8601 timestamp moved to ``now``."""
    delta = now.replace(microsecond=0) - parse_instant(DEMO_NOW)
    moved = _move(inventory, delta)
    assert isinstance(moved, Inventory)
    return moved


def moved_config(config: Config, now: dt.datetime) -> Config:
    """``config`` (dated ``DEMO_NOW``) with its date and suppression expiries moved to ``now``."""
    demo_day = parse_instant(DEMO_NOW).date()
    days = now.astimezone(dt.UTC).date() - demo_day
    suppressions = tuple(
        s if s.expires is None else dataclasses.replace(s, expires=s.expires + days)
        for s in config.suppressions
    )
    return dataclasses.replace(
        config, today=(config.today or demo_day) + days, suppressions=suppressions
    )


def _move(value: Any, delta: dt.timedelta) -> Any:
    if isinstance(value, str):
        if _TIMESTAMP.fullmatch(value):
            return instant_text(parse_instant(value) + delta)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _move(getattr(value, f.name), delta) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_move(v, delta) for v in value)
    if isinstance(value, list):
        return [_move(v, delta) for v in value]
    if isinstance(value, dict):
        return {k: _move(v, delta) for k, v in value.items()}
    return value
