"""Entry point: builds the Typer app from the command modules."""

from __future__ import annotations

import typer

from cniguard import __version__
from cniguard.cli import apply, core, iac, impact, kube_export, plan, scan, verify
from cniguard.cli import store as store_cmds
from cniguard.cli.examples import add_examples

app = typer.Typer(
    name="cniguard",
    help="Keeps the VPC CNI (aws-node) permissions of EKS clusters working and least-privilege.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cniguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """cniguard: find EKS clusters whose CNI permissions are missing or misplaced."""


core.register(app)
scan.register(app)
iac.register(app)
plan.register(app)
store_cmds.register(app)
impact.register(app)
verify.register(app)
apply.register(app)
kube_export.register(app)
add_examples(app)


EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in cniguard, never the user's input


def main() -> None:
    """The console script: an unexpected error (a bug) is one line, not a traceback, unless
    CNIGUARD_DEBUG is set."""
    import os

    try:
        app()
    except Exception as exc:
        if os.environ.get("CNIGUARD_DEBUG"):
            raise
        typer.echo(
            f"cniguard: internal error: {type(exc).__name__}: {exc} (a bug in cniguard; "
            "CNIGUARD_DEBUG=1 shows the traceback)",
            err=True,
        )
        raise SystemExit(EXIT_INTERNAL) from None
