"""The terminal view: one row per cluster, then the fleet summary and where the details are.

Rendered through rich into a string at a given width, with no colour codes unless asked, so the
same report always gives the same text. Below ``WIDE`` columns the table folds into five columns
(environment under the name, region under the account) so that an 80-column terminal shows
every identifier whole. Every value goes in as :class:`rich.text.Text`: a resource name such as
``[bold]x`` is printed as written, never read as markup.
"""

from __future__ import annotations

import re
import shutil
from io import StringIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cniguard.model.finding import Report
from cniguard.report.summary import (
    cluster_rows,
    facts,
    gap_lines,
    rule_list,
    rule_severities,
    summarize,
)

DEFAULT_WIDTH = 140
WIDE = 120  # narrower than this: the compact five-column table
COMPACT_OTHERS = 64  # the compact table's columns after the cluster name, with their gaps
COMPLIANT_STYLE = {"yes": "green", "no": "bold red", "unknown": "yellow", "n/a": "dim"}


def render(report: Report, *, color: bool = False, width: int | None = None) -> str:
    """``color`` means an interactive terminal: its width is used unless ``width`` is given."""
    if width is None:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns if color else DEFAULT_WIDTH
    buffer = StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(
        Text(
            f"cniguard {report.tool_version} · {report.kind} report · generated "
            f"{report.generated_at}",
            style="bold",
        )
    )
    wide = width >= WIDE
    console.print(_clusters_table(report) if wide else _compact_table(report, width))
    for fact in _summary_lines(report):
        console.print(fact)
    gaps = Table.grid()
    gaps.add_column(no_wrap=True)
    gaps.add_column(overflow="fold")
    for gap in gap_lines(report, short=not wide):
        gaps.add_row("  - ", Text(gap))
    console.print(gaps)
    console.print(Text(details_line(report), style="dim" if color else ""))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def details_line(report: Report) -> str:
    """The last line: where the evidence and the fixes are."""
    rows = cluster_rows(report)
    rule = next((f.rule_id for row in rows for f in (*row.failing, *row.unknown)), "CNI001")
    return (
        "Details: evidence and fixes with --format html -o report.html (or --format markdown); "
        f"one rule with `cniguard explain {rule}`."
    )


def _compact_table(report: Report, width: int) -> Table:
    """Five columns for narrow terminals; a long cluster name wraps after its hyphens."""
    name_width = max(12, width - COMPACT_OTHERS)
    table = Table(
        header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=True
    )
    table.add_column("Cluster", overflow="fold")
    table.add_column("Account/region", overflow="fold")
    table.add_column("CNI identity", overflow="fold")
    table.add_column("Compliant", overflow="fold")
    table.add_column("Rules", overflow="fold")
    for row, cluster in zip(cluster_rows(report), report.clusters, strict=True):
        where = cluster.location
        name = wrap_at_hyphens(row.name, name_width)
        name += f"\nenv: {row.environment}" if row.environment else ""
        if where and where.line:
            name += f"\n{where.file}:{where.line}"
        failing = [f"{rule} {sev}" for rule, sev in rule_severities(row.failing)]
        unknown = [f"{rule} unknown" for rule, _ in rule_severities(row.unknown)]
        rules = Text("\n".join(failing) or ("-" if not unknown else ""))
        if unknown:
            rules.append(("\n" if failing else "") + "\n".join(unknown), style="yellow")
        table.add_row(
            Text(name),
            Text(f"{row.account or '-'}\n{row.region or '-'}"),
            Text((row.cni_identity or "unknown") + (f"\n({row.basis})" if row.basis else "")),
            Text(row.compliant, style=COMPLIANT_STYLE[row.compliant]),
            rules,
        )
    return table


def _clusters_table(report: Report) -> Table:
    table = Table(header_style="bold")
    for column in ("Cluster", "Account", "Region", "Environment", "CNI identity", "Compliant"):
        table.add_column(column, overflow="fold")
    table.add_column("Failing rules", overflow="fold")
    table.add_column("Unknown", overflow="fold")
    for row, cluster in zip(cluster_rows(report), report.clusters, strict=True):
        where = cluster.location
        name = f"{row.name}\n{where.file}:{where.line}" if where and where.line else row.name
        table.add_row(
            Text(name),
            Text(row.account or "-"),
            Text(row.region or "-"),
            Text(row.environment or "-"),
            Text((row.cni_identity or "unknown") + (f"\nbasis: {row.basis}" if row.basis else "")),
            Text(row.compliant, style=COMPLIANT_STYLE[row.compliant]),
            Text(rule_list(row.failing, sep="\n") or "-"),
            Text(rule_list(row.unknown, sep="\n") or "-", style="yellow" if row.unknown else ""),
        )
    return table


def wrap_at_hyphens(name: str, width: int) -> str:
    """``name`` in lines of at most ``width``, broken only after a hyphen (when it has one)."""
    lines = [""]
    for part in re.findall(r"[^-]*-|[^-]+$", name):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def _summary_lines(report: Report) -> list[Text]:
    """The shared summary facts; lines that need attention are coloured when colour is on."""
    s = summarize(report)
    attention = {
        "Open findings": s.open_total > 0,
        "Unknown results": s.unknown_findings > 0,
        "Expired suppressions (failing again)": s.expired_suppressions > 0,
        "Coverage gaps": bool(s.gaps),
    }
    return [
        Text(f"{label}: {value}", style="yellow" if attention.get(label) else "")
        for label, value in facts(report)
    ]
