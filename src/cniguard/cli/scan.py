"""`cniguard scan` and `cniguard collect`: live AWS (and Kubernetes), or a saved inventory."""

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
)

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Evaluate a saved inventory (from `collect`) offline."),
]


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)


def scan(
    inventory: InventoryOpt = None,
    fmt: FormatOpt = Fmt.table,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    fail_on_incomplete: FailIncompleteOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Audit clusters: a saved inventory (--inventory) or live AWS."""
    from cniguard.engine import evaluate
    from cniguard.model.codec import InputError, load_inventory

    cfg = load_config_opt(config)
    if inventory is None:
        raise fail("live scanning is not available yet; pass --inventory FILE")
    try:
        inv = load_inventory(inventory)
    except InputError as exc:
        raise fail(str(exc)) from None
    report = evaluate(inv, cfg)
    emit(report, fmt=fmt, output=output, fail_on=fail_on,
         fail_on_incomplete=fail_on_incomplete, db=db)
