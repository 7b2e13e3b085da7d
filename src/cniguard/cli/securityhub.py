"""`scan --securityhub [--yes]`: import the findings into AWS Security Hub (a write: dry run
unless --yes). What is, or would be, sent is said on stderr, one line per region."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cniguard.cli.common import EXIT_INCOMPLETE, fail
from cniguard.model.finding import Report

SecurityHubOpt = Annotated[
    bool,
    typer.Option(
        "--securityhub",
        help="Import the findings into AWS Security Hub (BatchImportFindings; resolved ones are "
        "archived). A dry run unless --yes.",
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", help="With --securityhub: really send.")]


def export_securityhub(report: Report, *, profile: str | None, send: bool) -> None:
    """Plan against what Security Hub holds now, then send (with ``send``) and read back."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from cniguard.export.securityhub import read_previous
    from cniguard.export.securityhub import send as send_plan
    from cniguard.export.securityhub_plan import plan_import

    config = Config(retries={"mode": "standard", "max_attempts": 5}, user_agent_extra="cniguard")
    try:
        session = boto3.Session(profile_name=profile)
        account = session.client("sts", config=config).get_caller_identity()["Account"]
        mine = [c for c in report.clusters if c.account == account]
        regions = sorted({c.region for c in mine})
        partition = mine[0].arn.split(":")[1] if mine else "aws"
        clients = {r: session.client("securityhub", region_name=r, config=config) for r in regions}
        previous = read_previous(regions, account, clients.__getitem__, partition)
        plan = plan_import(report, account, previous)
        for line in plan.summary():
            typer.echo(f"cniguard: securityhub: account {account}: {line}", err=True)
        if not send:
            typer.echo("cniguard: securityhub: dry run, nothing sent (add --yes to send)", err=True)
            return
        journal = _journal_path(account, report.generated_at)
        typer.echo(f"cniguard: securityhub: journal: {journal}", err=True)
        results = send_plan(plan, clients.__getitem__, journal)
    except (BotoCoreError, ClientError) as exc:
        raise fail(f"securityhub: {exc}") from None
    except OSError as exc:
        raise fail(f"securityhub: cannot write the journal: {exc}") from None
    problems = []
    for region, result in results.items():
        typer.echo(
            f"cniguard: securityhub: {region}: sent {result.sent} finding(s) in "
            f"{result.calls} BatchImportFindings call(s); read back: "
            f"{'all held as sent' if not result.missing else f'{len(result.missing)} not'}",
            err=True,
        )
        problems += [f"{region} {fid}: {why}" for fid, why in sorted(result.failed.items())]
        problems += [f"{region} {fid}: not held as sent" for fid in result.missing]
    if problems:
        for problem in problems:
            typer.echo(f"cniguard: securityhub: not imported: {problem}", err=True)
        raise typer.Exit(EXIT_INCOMPLETE)


def _journal_path(account: str, scanned_at: str) -> Path:
    """Beside apply's journals: one file per import, named by account and scan time."""
    from cniguard.remediate.journal import default_journal_dir

    stamp = "".join(ch for ch in scanned_at if ch.isalnum())
    return default_journal_dir() / f"securityhub-{account}-{stamp}.json"
