"""Webhook alerts against a local receiver, and the `kpi` / `watch` / `serve` commands."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cniguard.alerting import deliver, post_with_retries
from cniguard.cli.store import register
from cniguard.store import save_report
from cniguard.store.database import get_engine

from .factory import cluster, finding, report


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers ``statuses`` in turn (then 200)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


CRIT = finding("CNI030", "a", severity="critical", resource="a/pods")
LOW = finding("CNI020", "a", severity="low")


def test_alert_once_per_incident_and_again_when_reopened(db_url: str, receiver: Receiver) -> None:
    engine = get_engine(db_url)
    save_report(db_url, report("2026-03-01T00:00:00Z", [cluster("a")], [CRIT, LOW]))
    assert deliver(engine, receiver.url, "high", backoff=0) == 1
    body = receiver.bodies[0]
    assert body["text"] == "cniguard: 1 new or re-opened finding(s)"
    assert [(a["rule_id"], a["severity"], a["reopened"]) for a in body["cniguard"]["alerts"]] == [
        ("CNI030", "critical", False)]
    assert body["blocks"][1]["text"]["text"] == (
        "*CRITICAL* CNI030 new: CNI030 on a — `arn:aws:eks:eu-west-1:111122223333:cluster/a`")
    save_report(db_url, report("2026-03-02T00:00:00Z", [cluster("a")], [CRIT, LOW]))
    assert deliver(engine, receiver.url, "high", backoff=0) == 0
    save_report(db_url, report("2026-03-03T00:00:00Z", [cluster("a")], [LOW]))
    save_report(db_url, report("2026-03-04T00:00:00Z", [cluster("a")], [CRIT, LOW]))
    assert deliver(engine, receiver.url, "high", backoff=0) == 1
    assert receiver.bodies[1]["cniguard"]["alerts"][0]["reopened"] is True
    assert len(receiver.bodies) == 2


def test_failed_delivery_is_retried_on_the_next_scan(db_url: str, receiver: Receiver) -> None:
    engine = get_engine(db_url)
    save_report(db_url, report("2026-03-01T00:00:00Z", [cluster("a")], [CRIT]))
    receiver.statuses = [503, 503]
    assert deliver(engine, receiver.url, "critical", attempts=2, backoff=0) == 0
    assert deliver(engine, receiver.url, "critical", attempts=2, backoff=0) == 1
    assert len(receiver.bodies) == 3


def test_retries_are_bounded_and_client_errors_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [503, 429, 200]
    assert post_with_retries(receiver.url, {"text": "x"}, attempts=3, backoff=0) is True
    receiver.statuses = [400]
    assert post_with_retries(receiver.url, {"text": "x"}, attempts=3, backoff=0) is False
    assert len(receiver.bodies) == 4


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_watch_demo_alerts_once(tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    result = CliRunner().invoke(_app(), [
        "watch", "--demo", "--db", url, "--every", "1s", "--iterations", "2",
        "--webhook", receiver.url, "--alert-on", "critical",
    ])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("cniguard watch")]
    assert len(lines) == 2
    assert lines[0].startswith("cniguard watch: stored scan 1 (")
    assert lines[1].endswith("; 0 alert(s) sent")
    sent = len(receiver.bodies[0]["cniguard"]["alerts"])
    assert sent > 0
    assert lines[0].endswith(f"; {sent} alert(s) sent")
    assert len(receiver.bodies) == 1


def test_kpi_command_json_and_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    save_report(url, report("2026-03-01T00:00:00Z", [cluster("a", "node_role")], [CRIT]))
    result = CliRunner().invoke(_app(), ["kpi", "--db", url, "--since", "3650d", "-f", "json"])
    assert result.exit_code == 0, result.output
    kpis = json.loads(result.output)
    assert (kpis["irsa_compliance_pct"], kpis["open_findings_by_severity"]["critical"]) == (0.0, 1)
    table = CliRunner().invoke(_app(), ["kpi", "--db", url, "--since", "3650d"]).output
    assert "IRSA compliance (all)             0%" in table
    assert "2026-03-01  0%          unknown     1/0          0          100%" in table


@pytest.mark.parametrize("args", [["kpi", "--since", "soon"], ["watch", "--every", "0m"]])
def test_bad_durations_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(_app(), [*args, "--db", f"sqlite:///{tmp_path / 'd.db'}"])
    assert result.exit_code == 2


def test_serve_refuses_a_public_bind_without_token(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["serve", "--host", "0.0.0.0",  # noqa: S104
                                         "--db", f"sqlite:///{tmp_path / 's.db'}"])
    assert result.exit_code == 2
    assert "give --token" in result.output
