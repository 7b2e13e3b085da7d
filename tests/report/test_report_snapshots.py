"""Every format of the sample report, byte for byte (``CNIGUARD_UPDATE_SNAPSHOTS=1`` rewrites)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

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
    "asff": "report.asff.json",
    "ocsf": "report.ocsf.json",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_every_format_has_a_snapshot() -> None:
    assert tuple(SNAPSHOT_FILES) == FORMATS


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_matches_snapshot(
    fmt: str, report: Report, snapshot: Callable[[str, str], None]
) -> None:
    snapshot(SNAPSHOT_FILES[fmt], render(for_format(report, fmt), fmt))


def for_format(report: Report, fmt: str) -> Report:
    """ASFF holds AWS findings only: the sample's IaC finding (no account) is left out for it."""
    if fmt != "asff":
        return report
    return replace(report, findings=tuple(f for f in report.findings if f.account))


def test_rendering_is_deterministic(report: Report) -> None:
    first = [render(for_format(report, fmt), fmt) for fmt in FORMATS]
    assert first == [render(for_format(report, fmt), fmt) for fmt in FORMATS]


def test_colour_table_is_the_plain_table_plus_ansi_styles(report: Report) -> None:
    coloured = render_table(report, color=True, width=DEFAULT_WIDTH)
    assert "\x1b[" in coloured
    assert ANSI.sub("", coloured) == render(report, "table")


def test_unknown_format_is_refused(report: Report) -> None:
    with pytest.raises(ValueError, match="unknown format 'pdf'; expected one of table, json"):
        render(report, "pdf")
