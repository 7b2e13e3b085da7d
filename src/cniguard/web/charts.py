"""Trend charts as SVG geometry computed on the server: the page loads no script and no library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 480, 160, 28


@dataclass(frozen=True)
class Series:
    name: str
    points: str  # SVG polyline "x,y x,y ..."
    dots: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Chart:
    title: str
    series: tuple[Series, ...]
    y_max: float
    first_day: str
    last_day: str
    unit: str
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD

    @property
    def empty(self) -> bool:
        return not any(s.dots for s in self.series)


def line_chart(
    title: str,
    days: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    unit: str = "",
    y_max: float | None = None,
) -> Chart:
    """Days on x, values on y (from 0); a missing value leaves a gap in the dots, not a zero."""
    values = [v for vs in series.values() for v in vs if v is not None]
    top = y_max if y_max is not None else max([*values, 1.0])
    span_x = WIDTH - 2 * PAD
    span_y = HEIGHT - 2 * PAD

    def x(i: int) -> float:
        return PAD + (span_x * i / (len(days) - 1) if len(days) > 1 else span_x / 2)

    def y(v: float) -> float:
        return HEIGHT - PAD - span_y * (v / top if top else 0)

    built = []
    for name, vs in series.items():
        dots = tuple((round(x(i), 1), round(y(v), 1)) for i, v in enumerate(vs) if v is not None)
        built.append(Series(name, " ".join(f"{a},{b}" for a, b in dots), dots))
    return Chart(
        title=title,
        series=tuple(built),
        y_max=round(top, 1),
        first_day=days[0] if days else "",
        last_day=days[-1] if days else "",
        unit=unit,
    )
