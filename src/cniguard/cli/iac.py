"""`cniguard iac PATH...`: Terraform, CloudFormation/CDK, eksctl and manifests, before deploy."""

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
    open_store_opt,
)

PathsArg = Annotated[
    list[Path],
    typer.Argument(help="Files or folders (searched recursively) holding IaC.", show_default=False),
]


def register(app: typer.Typer) -> None:
    app.command("iac")(iac)


def iac(
    paths: PathsArg,
    *,
    fmt: FormatOpt = Fmt.table,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    fail_on_incomplete: FailIncompleteOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Audit the EKS clusters defined in IaC files with the same rules as a live scan."""
    from cniguard.collect.iac.scan import collect_iac
    from cniguard.engine import evaluate

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such file or directory: {', '.join(missing)}")
    cfg = load_config_opt(config)
    if db is not None:
        open_store_opt(db)  # an unusable store fails before the files are read
    inventory = collect_iac(paths)
    for gap in inventory.gaps:
        if gap.what in ("iac:parse", "iac:file"):
            where = f"{gap.resource}:{gap.line}" if gap.line else str(gap.resource)
            typer.echo(f"cniguard: {where}: {gap.reason}", err=True)
    report = evaluate(inventory, cfg)
    emit(
        report,
        fmt=fmt,
        output=output,
        fail_on=fail_on,
        fail_on_incomplete=fail_on_incomplete,
        db=db,
    )
