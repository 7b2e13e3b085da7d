"""Opening the store: URL resolution, engine settings per dialect, migrations and write retries.

SQLite runs in WAL mode with a busy timeout and takes its write lock up front (``BEGIN
IMMEDIATE``), so concurrent writers queue instead of failing half-way; a writer that still finds
the database locked is retried a few times. PostgreSQL writers serialise on an advisory lock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

DEFAULT_DB = "default"
SQLITE_BUSY_SECONDS = 30.0
WRITE_ATTEMPTS = 5
_PG_WRITE_LOCK = 0x636E6967  # "cnig": the advisory lock every writer takes

T = TypeVar("T")


def default_sqlite_url() -> str:
    """SQLite in the user's data directory (created on first use)."""
    from platformdirs import user_data_path

    directory = user_data_path("cniguard", appauthor=False, ensure_exists=True)
    return f"sqlite:///{directory / 'cniguard.db'}"


def resolve_url(url: str) -> str:
    return default_sqlite_url() if url == DEFAULT_DB else url


class StoreError(Exception):
    """The store cannot be used (bad URL, no driver, unreachable, not a database, disk full):
    one line, password masked."""


_USERINFO_PASSWORD = re.compile(r"(//[^/:@\s]*:)[^@/\s]*@")


def display_url(url: str) -> str:
    """The URL as it may be shown or logged: the password replaced by ``***``."""
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _USERINFO_PASSWORD.sub(r"\1***@", url)


def store_error(url: str, exc: BaseException) -> StoreError:
    """A one-line StoreError for ``exc`` raised while opening or writing the store at ``url``."""
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        detail = str(exc.orig)
    elif isinstance(exc, NoSuchModuleError):
        detail = f"unknown database dialect ({exc})"
    elif isinstance(exc, ImportError):
        detail = f"the database driver is not installed ({exc.name or exc})"
    elif isinstance(exc, OSError):
        detail = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
    else:
        detail = str(exc)
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    detail = "; ".join(lines) or type(exc).__name__
    password = _password(url)
    if password:
        detail = detail.replace(password, "***")
    return StoreError(f"store {display_url(resolve_url(url))}: {detail}")


def _password(url: str) -> str | None:
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return None  # an unparsable URL: display_url masks by pattern instead
    return None if password is None else str(password)


def open_store(url: str) -> Engine:
    """``get_engine`` whose failures are one :class:`StoreError` line (fail before any work)."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return get_engine(url)
    except (SQLAlchemyError, CommandError, ImportError, OSError, ValueError) as exc:
        raise store_error(url, exc) from None


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, issues BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@cache
def get_engine(url: str) -> Engine:
    """One migrated engine per URL and process."""
    real = resolve_url(url)
    parsed = make_url(real)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(real, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        _sqlite_setup(engine)
    else:
        engine = create_engine(real, pool_pre_ping=True)
    upgrade(engine)
    return engine


def alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("cniguard.store") / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic, run in-process; safe for concurrent callers)."""
    from alembic import command

    with write_transaction(engine) as conn:
        command.upgrade(alembic_config(conn), revision)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the store's write lock from its first statement."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_WRITE_LOCK})
            yield conn


def _is_locked(exc: OperationalError) -> bool:
    message = str(exc.orig)
    return "database is locked" in message or "database is busy" in message


def with_write_retries(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one write transaction; retry when SQLite stays locked past its timeout."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with write_transaction(engine) as conn:
                return work(conn)
        except OperationalError as exc:
            if engine.dialect.name != "sqlite" or not _is_locked(exc) or attempt == WRITE_ATTEMPTS:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")
