"""`cniguard watch` across a real PostgreSQL "restart": nothing lost, schedule kept, one notice.

The store is reached through a TCP gate that is shut (connections cut and refused, as while
PostgreSQL restarts) after the first scan is stored and reopened once watch has reported it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from fakes.tcp_gate import TcpGate
from store.conftest import pg_base_url
from store.test_alerting_and_cli import Receiver


@pytest.fixture
def gated_pg() -> Iterator[tuple[str, TcpGate]]:
    """A private schema of the test PostgreSQL, reached through a gate on its own port."""
    base = make_url(pg_base_url())
    schema = f"w_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    gate = TcpGate(base.host or "127.0.0.1", base.port or 5432)
    gate.open()
    url = base.set(host="127.0.0.1", port=gate.port).update_query_dict(
        {"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False), gate
    gate.shut()
    with admin.connect() as conn:
        count = f"SELECT count(*) FROM {schema}.scans"  # noqa: S608 - our own schema name
        scans = conn.execute(text(count)).scalar_one()
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
    assert scans == 4  # every scan of the run is stored, outage or not


def _wait_for(lines: list[str], prefix: str, proc: subprocess.Popen[str]) -> None:
    for line in proc.stderr or ():
        lines.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return
    pytest.fail(f"watch ended before printing {prefix!r}: {lines}")


def test_watch_survives_a_database_restart(gated_pg: tuple[str, TcpGate]) -> None:
    url, gate = gated_pg
    receiver = Receiver()
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    cli = Path(sys.executable).with_name("cniguard")
    proc = subprocess.Popen(
        [str(cli), "watch", "--demo", "--db", url, "--every", "4s", "--iterations", "4",
         "--webhook", receiver.url, "--alert-on", "critical"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=os.environ.copy())
    lines: list[str] = []
    try:
        _wait_for(lines, "cniguard watch: stored scan 1 ", proc)
        gate.shut()
        _wait_for(lines, "cniguard watch: cannot store: store postgresql", proc)
        gate.open()
        _, rest = proc.communicate(timeout=180)
    finally:
        proc.kill()
        receiver.server.shutdown()
        receiver.server.server_close()
    lines += rest.splitlines()
    assert proc.returncode == 0, lines
    texts = [body["text"] for body in receiver.bodies]
    assert sum(t.startswith("cniguard watch cannot store its scans: ") for t in texts) == 1, texts
    assert sum(t.startswith("cniguard watch: the store answers again") for t in texts) == 1, texts
    # The demo's critical incidents are announced once, not again after the outage.
    assert sum(t.startswith("cniguard: ") for t in texts) == 1, texts
    stored = [ln for ln in lines if ln.startswith("cniguard watch: stored scan")]
    assert [ln.split()[4] for ln in stored] == ["1", "2", "3", "4"], lines
