"""The ``db_url`` fixture: every store test runs on SQLite and on the real PostgreSQL of CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cniguard.store.database import get_engine

PG_ENV = "CNIGUARD_TEST_PG_URL"


def pg_base_url() -> str:
    """The PostgreSQL URL from `.ci/run`: skip without it, but fail under CI where it must exist."""
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{PG_ENV} is not set under CI: .ci/run must start PostgreSQL")
    pytest.skip(f"{PG_ENV} not set: run `source .ci/postgres.sh && start_postgres` for PostgreSQL")


@contextmanager
def fresh_store(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, empty store: a SQLite file in ``folder``, or a private schema of the test
    PostgreSQL database (``kind``: sqlite or postgresql)."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'store-{uuid.uuid4().hex[:8]}.db'}"
        yield url
        get_engine(url).dispose()
        return
    base = pg_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Which database the store tests run on: each on SQLite and on the PostgreSQL of CI."""
    return str(request.param)


@pytest.fixture
def db_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of ``db_kind``."""
    with fresh_store(db_kind, tmp_path) as url:
        yield url
