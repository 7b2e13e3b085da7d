"""Issue 15 item 5: a broken environment ends with one error line and exit 2, nothing partial.

Every run is a real ``cniguard`` process (``capped.py``: 1 GiB memory cap), so what is asserted is
exactly what a user sees on stderr.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hostile.capped import CLI, run_capped

PG_URL = "postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/cniguard"


def cli(tmp_path: Path, *args: str, prologue: str = "") -> tuple[int, str, str]:
    done = run_capped(prologue + CLI, *args, cwd=tmp_path)
    return done.returncode, done.stdout, done.stderr


def one_error(tmp_path: Path, *args: str) -> str:
    """Run a command that must fail as bad input: exit 2, one stderr line, no stdout."""
    code, out, err = cli(tmp_path, *args)
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and err.startswith("cniguard: error: "), err
    return err.removeprefix("cniguard: error: ").rstrip("\n")


@pytest.mark.timeout(120)
def test_unusable_stores_fail_before_any_output(tmp_path: Path) -> None:
    (tmp_path / "not.db").write_text("this is a text file, not a database\n" * 100)
    report = tmp_path / "report.json"
    cases = {
        f"sqlite:///{tmp_path}/not.db": f"store sqlite:///{tmp_path}/not.db: file is not a database",
        "foo://x": "store foo://x: unknown database dialect "
        "(Can't load plugin: sqlalchemy.dialects:foo)",
        "mysql://bob:hunter2@127.0.0.1/x": "store mysql://bob:***@127.0.0.1/x: the database "
        "driver is not installed (MySQLdb)",
        PG_URL: "store postgresql+psycopg://alice:***@127.0.0.1:1/cniguard: connection failed: "
        'connection to server at "127.0.0.1", port 1 failed: Connection refused; Is the server '
        "running on that host and accepting TCP/IP connections?",
        "no url at all": "store no url at all: Could not parse SQLAlchemy URL from given URL "
        "string",
    }
    for url, message in cases.items():
        assert one_error(tmp_path, "demo", "--db", url, "-o", str(report)) == message
        assert not report.exists()
    assert one_error(tmp_path, "kpi", "--db", PG_URL).startswith(
        "store postgresql+psycopg://alice:***@127.0.0.1:1/cniguard: connection failed"
    )


_FULL_DISK = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
"""


@pytest.mark.timeout(120)
def test_a_full_disk_stores_nothing_and_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    code, _, err = cli(tmp_path, "demo", "--db", url, "-o", str(tmp_path / "first.txt"))
    assert code == 0, err
    done = run_capped(_FULL_DISK + CLI, "demo", "--db", url, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[-1] in (
        f"cniguard: error: store {url}: database or disk is full",
        f"cniguard: error: store {url}: disk I/O error",
    ), done.stderr
    with sqlite3.connect(tmp_path / "store.db") as conn:
        assert conn.execute("SELECT id FROM scans").fetchall() == [(1,)]


@pytest.mark.timeout(120)
def test_config_values_of_the_wrong_type(tmp_path: Path) -> None:
    cases = {
        "severity = 5\n": "[severity] must be a table, not an integer",
        'thresholds = "x"\n': "[thresholds] must be a table, not a string",
        "suppressions = 5\n": "suppressions must be an array of tables ([[suppressions]]), "
        "not an integer",
        "[production]\ntag_key = 5\n": "production.tag_key: expected a string, not an integer",
        '[[suppressions]]\nrule = 5\nreason = "r"\n': "suppressions[0].rule: expected a string, "
        "not an integer",
        "[thresholds]\nstuck_pod_minutes = true\n": "thresholds.stuck_pod_minutes must be a "
        "whole number",
    }
    config = tmp_path / "cniguard.toml"
    for text, message in cases.items():
        config.write_text(text)
        assert one_error(tmp_path, "demo", "--config", str(config)) == f"{config}: {message}"
    config.write_bytes('required_tags = ["caf\xe9"]\n'.encode("latin-1"))
    assert one_error(tmp_path, "demo", "--config", str(config)) == (
        f"{config}:1: not UTF-8 text (byte 0xe9); save it as UTF-8"
    )


@pytest.mark.timeout(120)
def test_hostile_inventories(tmp_path: Path) -> None:
    head = '{"schema": "cniguard.inventory/v1", "kind": "live", "x": '
    files = {
        "deep.json": (head + "[" * 1000 + "]" * 1000 + "}").encode(),
        "digits.json": (head + "9" * 5000 + "}").encode(),
        "latin1.json": '{"schema": "caf\xe9"}'.encode("latin-1"),
        "utf16.json": '{"schema": "cniguard.inventory/v1"}'.encode("utf-16"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    messages = {
        "deep.json": "deep.json: JSON nested too deeply",
        "digits.json": "digits.json: not usable JSON: Exceeds the limit (4300 digits) for "
        "integer string conversion",
        "latin1.json": "latin1.json:1: not UTF-8 text (byte 0xe9); save it as UTF-8",
        "utf16.json": "utf16.json: UTF-16 text; save it as UTF-8",
    }
    for name, message in messages.items():
        assert one_error(tmp_path, "scan", "--inventory", name) == message
