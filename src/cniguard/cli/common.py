"""Options every reporting command shares, and what happens to a finished report."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cniguard.model.finding import Report

if TYPE_CHECKING:
    from sqlalchemy import Engine

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3


class Fmt(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    csv = "csv"
    markdown = "markdown"
    html = "html"
    asff = "asff"
    ocsf = "ocsf"


class Sev(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"


FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the report to FILE instead of stdout.")
]
FailOnOpt = Annotated[
    Sev | None,
    typer.Option("--fail-on", help="Exit 1 when an unsuppressed finding at or above this fails."),
]
FailIncompleteOpt = Annotated[
    bool,
    typer.Option("--fail-on-incomplete", help="Exit 3 when part of the scope could not be read."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="cniguard.toml (tags, production, suppressions)."),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store the result: a SQLAlchemy URL (sqlite:///..., postgresql+psycopg://...) "
        "or 'default' for SQLite in the user data directory.",
    ),
]


def fail(message: str) -> typer.Exit:
    """Print one clear error line and return the exit for input errors (code 2)."""
    typer.echo(f"cniguard: error: {message}", err=True)
    return typer.Exit(EXIT_INPUT)


def load_config_opt(path: Path | None):  # type: ignore[no-untyped-def]
    from cniguard.config import Config, load_config
    from cniguard.model.codec import InputError

    if path is None:
        default = Path("cniguard.toml")
        if not default.exists():
            return Config()
        path = default
    try:
        return load_config(path)
    except InputError as exc:
        raise fail(str(exc)) from None


def open_store_opt(db: str):  # type: ignore[no-untyped-def]
    """The store's engine, or one clear error line (exit 2) before any work is done."""
    from cniguard.store.database import StoreError, open_store

    try:
        return open_store(db)
    except StoreError as exc:
        raise fail(str(exc)) from None


_NO_CREDENTIALS = (
    "NoCredentialsError",
    "PartialCredentialsError",
    "ProfileNotFound",
    "SSOError",
    "SSOTokenLoadError",
    "UnauthorizedSSOTokenError",
    "TokenRetrievalError",
    "CredentialRetrievalError",
    "LoginTokenLoadError",
    "NoAuthTokenError",
)
_REJECTED = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
CREDENTIALS_HINT = (
    "run `aws configure` or `aws sso login --profile NAME`, or pass --profile NAME "
    "(`cniguard demo` works without AWS)"
)


def aws_failure(exc: BaseException) -> typer.Exit:
    """One line saying what went wrong with AWS and what to do: credentials that are missing or
    rejected, or an endpoint that cannot be reached (a network problem, not a credentials one)."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & set(_NO_CREDENTIALS):
        return fail(f"no usable AWS credentials ({exc}): {CREDENTIALS_HINT}")
    if isinstance(exc, ConnectionError | HTTPClientError):
        return fail(
            f"cannot connect to AWS: {exc} (a network problem, not the credentials: check the "
            "network, the proxy settings and AWS_ENDPOINT_URL)"
        )
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _REJECTED:
        return fail(f"AWS rejected the credentials ({exc}): {CREDENTIALS_HINT}")
    return fail(f"AWS error: {exc}")


def open_read_store_opt(db: str) -> tuple[Engine, int]:
    """The store for a read-only command (``kpi``, ``serve``) and how many scans it holds.

    A SQLite file named explicitly must exist (a mistyped path is an error, never a new empty
    database); the default store is created on first use. With no scans stored, one line on
    stderr says so and names the database read.
    """
    from sqlalchemy import func, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from cniguard.store.database import DEFAULT_DB, display_url, resolve_url, store_error
    from cniguard.store.schema import Scan

    shown = display_url(resolve_url(db))
    try:
        parsed = make_url(db) if db != DEFAULT_DB else None
    except (ArgumentError, ValueError):
        parsed = None  # open_store_opt reports the unparsable URL
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).is_file():
            raise fail(
                f"store {shown}: no such database file (a read-only command creates none; "
                "check the path, or store scans first with `cniguard scan --db` or "
                "`cniguard demo --db`)"
            )
    engine = open_store_opt(db)
    try:
        with engine.connect() as conn:
            scans = int(conn.scalar(select(func.count()).select_from(Scan)) or 0)
    except SQLAlchemyError as exc:
        raise fail(str(store_error(db, exc))) from None
    if scans == 0:
        named = db if db == DEFAULT_DB else display_url(db)  # never the password
        typer.echo(
            f"cniguard: no scans stored yet in {shown}: run `cniguard demo --db {named}` to try "
            f"it, or `cniguard scan --db {named}`",
            err=True,
        )
    return engine, scans


def store_report_opt(db: str, report: Report) -> int:
    """Store a report (one transaction: all or nothing), or one clear error line (exit 2)."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from cniguard.store import save_report
    from cniguard.store.database import StoreError, store_error

    open_store_opt(db)
    try:
        return save_report(db, report)
    except StoreError as exc:
        raise fail(str(exc)) from None
    except (SQLAlchemyError, CommandError, OSError) as exc:
        raise fail(str(store_error(db, exc))) from None


def write_output(text: str, output: Path | None, what: str, *, executable: bool = False) -> None:
    """``text`` to stdout, or to ``output`` with one line on stderr saying so (exit 2 if not)."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
        if executable:
            output.chmod(0o755)
    except OSError as exc:
        raise fail(f"{output}: cannot write: {exc.strerror or exc}") from None
    typer.echo(f"cniguard: wrote {what} to {output}", err=True)


def table_width() -> int:
    """``COLUMNS`` when set (also for piped output), else the terminal's width, else 140."""
    import os
    import shutil

    from cniguard.report.table_format import DEFAULT_WIDTH

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return DEFAULT_WIDTH


def exit_code(report: Report, fail_on: Sev | None, fail_on_incomplete: bool) -> int:
    from cniguard.model.finding import severity_rank

    if fail_on is not None:
        threshold = severity_rank(fail_on.value)
        if any(severity_rank(f.severity) >= threshold for f in report.failing()):
            return EXIT_FINDINGS
    if fail_on_incomplete and (report.coverage.get("gaps") or _has_unknown(report)):
        return EXIT_INCOMPLETE
    return EXIT_OK


def _has_unknown(report: Report) -> bool:
    """A cluster or finding left unknown, with or without a gap to say why."""
    clusters = any(
        c.compliant is None and c.cni_identity != "not_applicable" for c in report.clusters
    )
    return clusters or any(f.status == "unknown" for f in report.findings)


def emit(
    report: Report,
    *,
    fmt: Fmt,
    output: Path | None,
    fail_on: Sev | None,
    fail_on_incomplete: bool = False,
    db: str | None = None,
) -> None:
    """Render, write, optionally store, then exit with the contract's exit code."""
    from cniguard.report import render

    if db is not None:
        open_store_opt(db)  # an unusable store fails before any output is written
    color = output is None and sys.stdout.isatty()
    try:
        if fmt is Fmt.table:
            from cniguard.report.table_format import render as render_table

            text = render_table(report, color=color, width=table_width())
        else:
            text = render(report, fmt.value, color=color)
    except ValueError as exc:  # a report the format cannot hold (ASFF of an IaC template)
        raise fail(str(exc)) from None
    write_output(text, output, f"{fmt.value} report")
    if db is not None:
        from sqlalchemy.exc import SQLAlchemyError

        from cniguard.store.database import display_url, resolve_url, store_error
        from cniguard.store.repository import stored_scan_of

        where = display_url(resolve_url(db))
        try:
            existing = stored_scan_of(db, report)
        except (SQLAlchemyError, OSError) as exc:  # the store went away since it was opened
            raise fail(str(store_error(db, exc))) from None
        if existing is not None:
            typer.echo(
                f"cniguard: this inventory is already stored as scan {existing} in {where} "
                "(nothing added)",
                err=True,
            )
        else:
            scan_id = store_report_opt(db, report)
            typer.echo(f"cniguard: stored scan {scan_id} in {where}", err=True)
    raise typer.Exit(exit_code(report, fail_on, fail_on_incomplete))
