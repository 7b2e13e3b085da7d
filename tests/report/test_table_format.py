"""The terminal table: unknowns visible, values printed as written (never as rich markup)."""

from __future__ import annotations

from dataclasses import replace

from cniguard.model.finding import Report
from cniguard.report import render
from cniguard.report.table_format import render as render_table


def test_unknown_and_not_applicable_are_visible(report: Report) -> None:
    text = render(report, "table")
    analytics = next(line for line in text.splitlines() if "dev-analytics" in line)
    assert "│ unknown " in analytics
    assert "CNI015 (medium)" in analytics
    fargate = next(line for line in text.splitlines() if "batch-fargate" in line)
    assert "│ n/a " in fargate
    assert "Unknown results: 1" in text


def test_markup_in_values_is_printed_literally(report: Report) -> None:
    cluster = replace(report.clusters[0], name="[bold red]x[/]")
    text = render(replace(report, clusters=(cluster,), findings=()), "table")
    assert "[bold red]x[/]" in text


def test_narrow_width_wraps_and_never_truncates(report: Report) -> None:
    text = render_table(report, width=100)
    assert max(len(line) for line in text.splitlines()) == 100
    assert "…" not in text
