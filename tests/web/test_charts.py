"""Trend charts: calendar x axis (gaps show), gridlines, hover values, one colour per series."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from cniguard.web.app import create_app
from cniguard.web.charts import Dot, Tick, line_chart

from .fleet import build_store


def test_x_is_calendar_time_and_a_missing_day_breaks_the_line() -> None:
    chart = line_chart(
        "t",
        ["2026-03-01", "2026-03-02", "2026-03-05"],
        {"a": [10.0, 20.0, 40.0], "b": [None, 5.0, 5.0]},
        first="2026-03-01",
        last="2026-03-09",
    )
    a, b = chart.series
    # 428 px over 8 days: 53.5 px a day from x=40; y: 146 px from 156 (0) up to 10 (max)
    assert [d.x for d in a.dots] == [40.0, 93.5, 254.0]
    assert a.segments == ("40.0,119.5 93.5,83.0",)  # Mar 5 stands alone: Mar 3-4 had no scan
    assert a.dots[2] == Dot(254.0, 10.0, "a 2026-03-05: 40")
    assert b.segments == ()
    assert [(s.name, s.index) for s in chart.series] == [("a", 1), ("b", 2)]
    assert (chart.first_day, chart.last_day, chart.y_max) == ("2026-03-01", "2026-03-09", 40.0)
    assert chart.y_grid == (
        Tick(156.0, "0"),
        Tick(119.5, "10"),
        Tick(83.0, "20"),
        Tick(46.5, "30"),
        Tick(10.0, "40"),
    )
    assert [t.label for t in chart.x_ticks] == ["Mar 01", "Mar 03", "Mar 05", "Mar 07", "Mar 09"]


def test_one_day_sits_in_the_middle_with_a_unit_in_its_title() -> None:
    chart = line_chart("t", ["2026-03-01"], {"pct": [50.0]}, unit="%", y_max=100)
    assert chart.series[0].dots == (Dot(254.0, 83.0, "pct 2026-03-01: 50%"),)
    assert chart.x_ticks == (Tick(254.0, "Mar 01"),)


def test_overview_charts_hover_values_and_colours(tmp_path: Path) -> None:
    client = TestClient(create_app(build_store(tmp_path)))
    page = client.get("/", params={"since": "3650d"}).text
    for title in (
        "IRSA compliance",
        "Open high and critical findings",
        "CNI identity mode mix (clusters)",
        "MTTR of CNI incidents fixed that day",
        "Coverage",
    ):
        assert f'aria-label="{title}"' in page
    assert "<title>all clusters 2026-03-02: 66.7%</title>" in page
    assert "<title>hours 2026-03-02: 24 h</title>" in page
    assert "<title>node_role 2026-03-01: 1</title>" in page
    assert '<circle class="dot s3"' in page  # the third series has its own colour class
    assert 'class="grid"' in page
    assert '<option value="365d">last 365d</option>' in page
    assert '<option value="3650d" selected>last 3650d</option>' in page
