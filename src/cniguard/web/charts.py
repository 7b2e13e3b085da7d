"""Trend charts as SVG geometry computed on the server: the page loads no script and no library.

The x axis is calendar time from the window's first day to its last, so a day without a scan
leaves space and breaks the line; every dot carries its value in an SVG ``<title>`` (shown on
hover), and gridlines mark a quarter of the y range each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 480, 180
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 10, 24
GRID_STEPS = 4
X_TICKS = 4


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str  # "<series> <day>: <value><unit>", the hover text


@dataclass(frozen=True)
class Series:
    name: str
    index: int  # from 1: its colour class ``s<index>``
    segments: tuple[str, ...]  # SVG polylines "x,y x,y ...", broken where a day has no value
    dots: tuple[Dot, ...]


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    series: tuple[Series, ...]
    y_max: float
    first_day: str
    last_day: str
    unit: str
    y_grid: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    top: int = TOP
    bottom: int = BOTTOM

    @property
    def empty(self) -> bool:
        return not any(s.dots for s in self.series)


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def line_chart(
    title: str,
    days: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    unit: str = "",
    y_max: float | None = None,
    first: str | None = None,
    last: str | None = None,
) -> Chart:
    """Days (``YYYY-MM-DD``) on a calendar x axis from ``first`` to ``last`` (default: the days'
    own range), values on y from 0; a missing value or a day without a scan breaks the line."""
    dates = [dt.date.fromisoformat(d) for d in days]
    start = dt.date.fromisoformat(first) if first else min(dates, default=dt.date.min)
    end = dt.date.fromisoformat(last) if last else max(dates, default=start)
    span_days = max((end - start).days, 0)
    values = [v for vs in series.values() for v in vs if v is not None]
    top = y_max if y_max is not None else max([*values, 1.0])
    span_x = WIDTH - LEFT - RIGHT
    span_y = HEIGHT - TOP - BOTTOM

    def x(day: dt.date) -> float:
        if not span_days:
            return LEFT + span_x / 2
        return LEFT + span_x * (day - start).days / span_days

    def y(v: float) -> float:
        return HEIGHT - BOTTOM - span_y * (v / top if top else 0)

    built = []
    for index, (name, vs) in enumerate(series.items(), start=1):
        dots: list[Dot] = []
        segments: list[list[str]] = []
        previous: dt.date | None = None
        for day, value in zip(dates, vs, strict=True):
            if value is None:
                previous = None
                continue
            dot = Dot(round(x(day), 1), round(y(value), 1), f"{name} {day}: {_number(value)}{unit}")
            if previous is None or (day - previous).days > 1:
                segments.append([])
            segments[-1].append(f"{dot.x},{dot.y}")
            dots.append(dot)
            previous = day
        built.append(
            Series(name, index, tuple(" ".join(s) for s in segments if len(s) > 1), tuple(dots))
        )
    grid = tuple(
        Tick(round(y(top * step / GRID_STEPS), 1), _number(round(top * step / GRID_STEPS, 1)))
        for step in range(GRID_STEPS + 1)
    )
    ticks = tuple(
        Tick(round(x(day), 1), day.strftime("%b %d"))
        for day in sorted(
            {start + dt.timedelta(days=round(span_days * k / X_TICKS)) for k in range(X_TICKS + 1)}
        )
    )
    return Chart(
        title=title,
        series=tuple(built),
        y_max=round(top, 1),
        first_day=start.isoformat() if dates else "",
        last_day=end.isoformat() if dates else "",
        unit=unit,
        y_grid=grid,
        x_ticks=ticks,
    )
