"""Markdown: clusters table, findings by severity, and values that cannot break the page."""

from __future__ import annotations

import re

import pytest

from cniguard.model.finding import Report
from cniguard.report import render
from cniguard.report.markdown_format import md


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a | b", r"a \| b"),
        ("[click](http://x)", r"\[click\](http://x)"),
        ("<script>", r"\<script\>"),
        ("pod_identity", r"pod\_identity"),
        ("`code` *em*", r"\`code\` \*em\*"),
        ("back\\slash", r"back\\slash"),
        ("&amp; !img #h", r"\&amp; \!img \#h"),
        ("line one\nline two", "line one<br>line two"),
        ("plain arn:aws:iam::1:role/x-y.z", "plain arn:aws:iam::1:role/x-y.z"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert md(raw) == escaped


def test_findings_grouped_by_severity_worst_first(report: Report) -> None:
    text = render(report, "markdown")
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == [
        "### Critical (3 open)",
        "### High (1 open)",
        "### Medium (2 open, 1 unknown)",
        "### Low (2 open, 1 suppressed)",
        "### Info (1 open)",
    ]
    assert text.endswith("4 passing check(s) not listed.\n")


def test_every_table_row_has_the_header_width(hostile_report: Report) -> None:
    lines = render(hostile_report, "markdown").splitlines()
    widths = set()
    for i, line in enumerate(lines):
        if line.startswith("|---"):
            width = lines[i - 1].count(" | ")
            j = i + 1
            while j < len(lines) and lines[j].startswith("| "):
                unescaped_pipes = lines[j].replace("\\|", "").count(" | ")
                widths.add((width, unescaped_pipes))
                j += 1
    assert widths == {(8, 8), (5, 5)}


def test_hostile_values_are_inert(hostile_report: Report) -> None:
    text = render(hostile_report, "markdown")
    assert re.findall(r"(?<!\\)<(?!br>)", text) == []  # every "<" escaped, but our <br>
    assert "second line" in text
    assert r"\[click\](http://evil.example)" in text  # no link: both brackets escaped
    assert r"\<script\>alert(1)\</script\>" in text
