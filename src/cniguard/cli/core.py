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
    fail,
    load_config_opt,
    write_output,
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
    """Audit the built-in demo fleet (15+ clusters, every rule failing somewhere; no AWS needed).

    Its timestamps are moved to now, so a stored demo (--db) is always inside `kpi`/`serve`'s
    window.
    """
    import datetime as dt

    from cniguard.demo import build_fleet, demo_config
    from cniguard.demo.clock import instant_text, moved_config, moved_inventory
    from cniguard.engine import evaluate
    from cniguard.model.codec import save_inventory as write_inventory

    now = dt.datetime.now(dt.UTC)
    inventory = moved_inventory(build_fleet(), now)
    cfg = load_config_opt(config) if config else moved_config(demo_config(), now)
    if save_inventory is not None:
        try:
            write_inventory(inventory, save_inventory)
        except OSError as exc:
            raise fail(f"{save_inventory}: cannot write: {exc.strerror or exc}") from None
    report = evaluate(inventory, cfg, generated_at=instant_text(now))
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
    write_output(text, output, "rule catalogue")
