"""Issue 15 item 2: a live scan against an endpoint that accepts connections and never answers
ends within a bound, and every region it could not read is a gap naming the call.

EKS is pointed at a loopback socket that accepts and stays silent (botocore's per-service
``AWS_ENDPOINT_URL_EKS``); STS, EC2 and IAM are the fake AWS.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app
from fakes.proxy import FakeAws

REGIONS = ("eu-west-1", "us-east-1", "us-west-2")


@pytest.fixture
def silent_eks(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A loopback server that accepts every connection and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_EKS", f"http://{host}")
    yield host
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _scan(*args: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["scan", "--no-cloudtrail", "--quiet", "-f", "json", "--fail-on-incomplete", *args],
    )
    elapsed = time.monotonic() - started
    return result.exit_code, json.loads(result.stdout), elapsed


def _gaps(report: dict[str, object]) -> list[tuple[object, ...]]:
    coverage = report["coverage"]
    assert isinstance(coverage, dict)
    return sorted((g["what"], g["region"], g["operation"], g["reason"]) for g in coverage["gaps"])


@pytest.mark.timeout(60)
def test_a_silent_endpoint_is_given_up_after_three_timeouts(aws: FakeAws, silent_eks: str) -> None:
    code, report, elapsed = _scan("--regions", ",".join(REGIONS), "--call-timeout", "2")

    assert code == 3
    assert elapsed < 20  # before: 60 s read timeout x 6 attempts per call
    unresponsive = f"EndpointUnresponsive: {silent_eks} timed out 3 times in this scan: not called"
    assert _gaps(report) == [
        ("eks:clusters", region, "eks:ListClusters", f"{unresponsive} again") for region in REGIONS
    ]


@pytest.mark.timeout(60)
def test_the_deadline_stops_the_scan_and_names_what_was_not_read(
    aws: FakeAws, silent_eks: str
) -> None:
    code, report, elapsed = _scan(
        "--regions", "us-east-1", "--call-timeout", "6", "--deadline", "3s"
    )

    assert code == 3
    assert elapsed < 15  # the deadline, then at most one call timeout for the call in flight
    assert _gaps(report) == [
        (
            "eks:clusters",
            "us-east-1",
            "eks:ListClusters",
            "DeadlinePassed: the scan's --deadline of 3s passed before this was read",
        ),
        (
            "scan:deadline",
            None,
            None,
            "the scan stopped reading at its --deadline of 3s; each read it did not make is a gap",
        ),
    ]


def test_a_bad_deadline_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["scan", "--deadline", "soon"])
    assert (result.exit_code, result.output) == (
        2,
        "cniguard: error: --deadline expects a duration such as 90s, 15m or 1h, got 'soon'\n",
    )
