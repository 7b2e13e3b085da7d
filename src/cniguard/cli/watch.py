"""`cniguard watch`: scan on a schedule into the store and alert; the loop is cniguard.watcher."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from cniguard.cli.common import ConfigOpt, Sev, fail, load_config_opt, open_store_opt
from cniguard.cli.scan import with_live_options
from cniguard.collect.options import LiveOptions
from cniguard.model.finding import Report


@with_live_options
def watch(
    *,
    live: LiveOptions,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            help="SQLAlchemy URL of the store, or 'default' (SQLite in the user data directory).",
        ),
    ] = "default",
    every: Annotated[str, typer.Option("--every", help="Time between scans, e.g. 15m.")] = "15m",
    alert_on: Annotated[
        Sev, typer.Option("--alert-on", help="Alert on new/re-opened findings at or above this.")
    ] = Sev.high,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST alerts here (Slack-compatible JSON).")
    ] = None,
    inventory: Annotated[
        Path | None, typer.Option("--inventory", "-i", help="Scan this saved inventory.")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Scan the built-in demo fleet.")] = False,
    config: ConfigOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Scan once and exit.")] = False,
    iterations: Annotated[
        int | None, typer.Option("--iterations", min=1, help="Stop after N scans.")
    ] = None,
) -> None:
    """Scan on a schedule into the store; alert on new or re-opened findings.

    The store must answer at start. When it goes down later (restarting, unreachable, full),
    scans are kept in memory and stored once it answers, retried with back-off; the schedule
    goes on and the outage is announced once on --webhook. Exit 2 when a bounded run (--once,
    --iterations) ends with scans unstored.

    Example: cniguard watch --db postgresql+psycopg://cniguard@db/cniguard --every 15m
    """
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from cniguard.alerting import deliver, post_with_retries, slack_escape
    from cniguard.store.database import StoreError, open_store, store_error
    from cniguard.store.timespan import parse_duration
    from cniguard.watcher import StoreUnavailable, Watcher

    try:
        interval = parse_duration(every).total_seconds()
    except ValueError as exc:
        raise fail(f"--every: {exc}") from None
    # A store that cannot be used at start (bad URL, no driver, unreachable) is a mistake in the
    # command: one line, exit 2. Only an outage after a good start is waited out.
    open_store_opt(db)

    def guarded(work: Callable[[], int]) -> int:
        """``work`` on the store; what a restarting, unreachable or full store raises becomes
        StoreUnavailable, one masked line."""
        try:
            return work()
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from None
        except (SQLAlchemyError, CommandError, OSError) as exc:
            raise StoreUnavailable(str(store_error(db, exc))) from None

    def store(report: Report) -> int:
        from cniguard.store import save_report

        def write() -> int:
            open_store(db)  # migrates on its first success; cached afterwards
            return save_report(db, report)

        return guarded(write)

    def alert() -> int:
        return guarded(lambda: deliver(open_store(db), webhook, alert_on.value)) if webhook else 0

    def notify(message: str) -> None:
        if webhook:
            post_with_retries(webhook, {"text": slack_escape(message)})

    watcher = Watcher(
        scan=lambda: scan_report(inventory, demo, config, live),
        store=store,
        alert=alert,
        notify=notify,
        echo=lambda line: typer.echo(line, err=True),
        interval=interval,
    )
    if not watcher.run(1 if once else iterations):
        raise typer.Exit(2)


def scan_report(
    inventory: Path | None, demo: bool, config: Path | None, live: LiveOptions
) -> Report:
    """One evaluation, exactly as `scan` (live or --inventory) or `demo` makes it."""
    from cniguard.cli.scan import load_inventory_opt, run_collection, saved_marks
    from cniguard.engine import evaluate

    if demo:
        from cniguard.demo import build_fleet, demo_config

        cfg = load_config_opt(config) if config else demo_config()
        return evaluate(build_fleet(), cfg)
    cfg = load_config_opt(config)
    if inventory is None:
        return evaluate(run_collection(live), cfg)
    inv = load_inventory_opt(inventory)
    saved = saved_marks(inv)  # stored at its collection time, once however often it is scanned
    return saved.mark(evaluate(inv, cfg, generated_at=saved.generated_at))
