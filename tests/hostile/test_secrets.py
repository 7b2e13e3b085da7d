"""Issue 15 item 6: secrets stay out of messages, gaps and reports."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cniguard.redact import redact_secrets
from cniguard.store.database import display_url
from hostile.capped import CLI, run_capped

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (
            'Unauthorized: "Authorization: Bearer k8s-aws-v1.aHR0cHM6Ly9zdHM_QWN0aW9u" rejected',
            'Unauthorized: "Authorization: Bearer ***" rejected',
        ),
        (f"token {JWT} has expired", "token *** has expired"),
        ("sent k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdz", "sent k8s-aws-v1.***"),
        (
            "GET /?Action=GetCallerIdentity&X-Amz-Credential=AKIAEXAMPLE%2F20260101"
            "&X-Amz-Signature=0123abcd&X-Amz-Security-Token=FwoGZXIvYXdzE",
            "GET /?Action=GetCallerIdentity&X-Amz-Credential=***&X-Amz-Signature=***"
            "&X-Amz-Security-Token=***",
        ),
        ("postgresql+psycopg://alice:s3cr3t@db:5432/x", "postgresql+psycopg://alice:***@db:5432/x"),
        ('{"password": "hunter2", "token":"abc"}', '{"password": "***", "token":"***"}'),
        ("basic%20YWxpY2U6c2VjcmV0 refused", "basic%20*** refused"),
        ("pods is forbidden: User cannot list pods", "pods is forbidden: User cannot list pods"),
        ("tokens are rotated; the secret store", "tokens are rotated; the secret store"),
    ],
)
def test_redact_secrets(text: str, redacted: str) -> None:
    assert redact_secrets(text) == redacted


def test_display_url_masks_the_password_only() -> None:
    assert display_url("postgresql+psycopg://alice:p%40ss@db.internal:5432/cniguard") == (
        "postgresql+psycopg://alice:***@db.internal:5432/cniguard"
    )
    assert display_url("sqlite:////var/lib/cniguard.db") == "sqlite:////var/lib/cniguard.db"
    assert (
        display_url("postgresql://bob:pw@host:notaport/db")
        == "postgresql://bob:***@host:notaport/db"
    )


@pytest.mark.timeout(120)
def test_a_store_error_never_shows_the_password(tmp_path: Path) -> None:
    """SQLite refuses a URL with a password: the error line masks it too."""
    url = f"sqlite://alice:hunter2@/{tmp_path}/store.db"
    done = run_capped(CLI, "demo", "--db", url, "-o", str(tmp_path / "r.txt"), cwd=tmp_path)
    assert done.returncode == 2
    assert "hunter2" not in done.stderr
    assert done.stderr.startswith(
        f"cniguard: error: store sqlite://alice:***@/{tmp_path}/store.db: Invalid SQLite URL: "
        f"sqlite://alice:***@/{tmp_path}/store.db; "
    )
    assert not (tmp_path / "r.txt").exists()


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_stored_scan_message_never_shows_the_password(tmp_path: Path) -> None:
    """CI's PostgreSQL trusts loopback, so any password in the URL works and must stay hidden."""
    from store.conftest import pg_base_url

    base = pg_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = make_url(base).set(
            password="hunter2-ci", query={"options": f"-csearch_path={schema}"}
        )
        shown = url.render_as_string(hide_password=False)
        done = run_capped(CLI, "demo", "--db", shown, "-o", str(tmp_path / "r.txt"), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "hunter2-ci" not in done.stderr
        assert done.stderr.splitlines()[-1] == (
            f"cniguard: stored scan 1 in {url.render_as_string(hide_password=True)}"
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
