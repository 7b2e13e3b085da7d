"""`cniguard demo` and `cniguard rules`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cniguard.cli.common import (
    ConfigOpt,
    DbOpt,
    FailIncompleteOpt,
    FailOnOpt,
    Fmt,
    FormatOpt,
    OutputOpt,
    emit,
    load_config_opt,
)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("rules")(rules)


def demo(
    fmt: FormatOpt = Fmt.table,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    fail_on_incomplete: FailIncompleteOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    save_inventory: Annotated[
        Path | None,
        typer.Option("--save-inventory", help="Also write the demo fleet's inventory JSON here."),
    ] = None,
) -> None:
    """Audit the built-in demo fleet (15+ clusters, every rule failing somewhere; no AWS needed)."""
    from cniguard.demo import DEMO_NOW, build_fleet, demo_config
    from cniguard.engine import evaluate
    from cniguard.model.codec import save_inventory as write_inventory

    inventory = build_fleet()
    cfg = load_config_opt(config) if config else demo_config()
    if save_inventory is not None:
        write_inventory(inventory, save_inventory)
    report = evaluate(inventory, cfg, generated_at=DEMO_NOW)
    emit(
        report,
        fmt=fmt,
        output=output,
        fail_on=fail_on,
        fail_on_incomplete=fail_on_incomplete,
        db=db,
    )


def rules(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The catalogue as Markdown.")
    ] = False,
    output: OutputOpt = None,
) -> None:
    """List the rule catalogue (`--markdown` generates docs/rules.md)."""
    from cniguard.catalogue import catalogue_markdown, catalogue_table

    text = catalogue_markdown() if markdown else catalogue_table()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
