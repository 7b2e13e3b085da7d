"""Every format of the sample report, byte for byte (``CNIGUARD_UPDATE_SNAPSHOTS=1`` rewrites)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from cniguard.model.finding import Report
from cniguard.report import FORMATS, render
from cniguard.report.table_format import DEFAULT_WIDTH
from cniguard.report.table_format import render as render_table

SNAPSHOT_FILES = {
    "table": "table.txt",
    "json": "report.json",
    "sarif": "report.sarif",
    "junit": "junit.xml",
    "csv": "findings.csv",
    "markdown": "report.md",
    "html": "report.html",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_every_format_has_a_snapshot() -> None:
    assert tuple(SNAPSHOT_FILES) == FORMATS


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_matches_snapshot(
    fmt: str, report: Report, snapshot: Callable[[str, str], None]
) -> None:
    snapshot(SNAPSHOT_FILES[fmt], render(report, fmt))


def test_rendering_is_deterministic(report: Report) -> None:
    assert [render(report, fmt) for fmt in FORMATS] == [render(report, fmt) for fmt in FORMATS]


def test_colour_table_is_the_plain_table_plus_ansi_styles(report: Report) -> None:
    coloured = render_table(report, color=True, width=DEFAULT_WIDTH)
    assert "\x1b[" in coloured
    assert ANSI.sub("", coloured) == render(report, "table")


def test_unknown_format_is_refused(report: Report) -> None:
    with pytest.raises(ValueError, match="unknown format 'pdf'; expected one of table, json"):
        render(report, "pdf")
