"""The terminal view: one row per cluster, then the fleet summary.

Rendered through rich into a string at a fixed width, with no colour codes unless asked, so the
same report always gives the same text (a colour terminal gets its own width). Every value goes
in as :class:`rich.text.Text`: a resource name such as ``[bold]x`` is printed as written, never
read as markup.
"""

from __future__ import annotations

import shutil
from io import StringIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cniguard.model.finding import Report
from cniguard.report.summary import cluster_rows, facts, gap_lines, rule_list, summarize

DEFAULT_WIDTH = 140
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
    console.print(_clusters_table(report))
    for line in _summary_lines(report):
        console.print(line)
    return buffer.getvalue()


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


def _summary_lines(report: Report) -> list[Text]:
    """The shared summary facts; lines that need attention are coloured when colour is on."""
    s = summarize(report)
    attention = {
        "Open findings": s.open_total > 0,
        "Unknown results": s.unknown_findings > 0,
        "Expired suppressions (failing again)": s.expired_suppressions > 0,
        "Coverage gaps": bool(s.gaps),
    }
    lines = [
        Text(f"{label}: {value}", style="yellow" if attention.get(label) else "")
        for label, value in facts(report)
    ]
    lines += [Text(f"  - {line}") for line in gap_lines(report)]
    return lines
