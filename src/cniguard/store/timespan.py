"""Durations on the command line and in the API: ``90s``, ``15m``, ``12h``, ``30d``, ``2w``."""

from __future__ import annotations

import datetime as dt
import re

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> dt.timedelta:
    """Raise ValueError with a usable message on anything but ``<number><s|m|h|d|w>`` > 0."""
    match = _PATTERN.match(text.lower())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration such as 90s, 15m, 12h, 30d or 2w")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
