"""Output formats: each module renders a finished :class:`~cniguard.model.finding.Report`."""

from __future__ import annotations

import importlib

from cniguard.model.finding import Report

FORMATS = ("table", "json", "sarif", "junit", "csv", "markdown", "html", "asff", "ocsf")


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """Render ``report`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    module = importlib.import_module(f"cniguard.report.{fmt}_format")
    text: str = module.render(report, color=color) if fmt == "table" else module.render(report)
    return text
