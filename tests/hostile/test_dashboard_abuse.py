"""The served dashboard survives abuse: half-open sockets, slow headers, log floods (issue 15.7).

A real uvicorn server on 127.0.0.1 with the limits `cniguard serve` applies, small ones here.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from cniguard.web.app import create_app
from cniguard.web.serving import LOG_BURST, Limits, RepeatLimit, bounded_config
from web.fleet import build_store

LIMITS = Limits(max_connections=40, header_timeout=1.0, keep_alive=1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    app = create_app(build_store(tmp_path_factory.mktemp("served")))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    server = uvicorn.Server(bounded_config(app, "127.0.0.1", port, LIMITS, level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=10)


def _half_open(address: tuple[str, int], count: int, partial: bytes) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(address, timeout=5)
        if partial:
            sock.sendall(partial)
        socks.append(sock)
    return socks


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("partial", [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "])
def test_answers_while_hundreds_of_sockets_hang(served: tuple[str, int], partial: bytes) -> None:
    socks = _half_open(served, 300, partial)
    try:
        time.sleep(0.2)
        started = time.monotonic()
        response = httpx.get(f"http://{served[0]}:{served[1]}/api/scans", timeout=5)
        assert (response.status_code, len(response.json())) == (200, 2)
        assert time.monotonic() - started < 2
        evicted = sum(_closed_by_server(s) for s in socks)
        assert evicted >= 300 - LIMITS.max_connections
        time.sleep(LIMITS.header_timeout + 0.5)
        assert [s for s in socks if not _closed_by_server(s)] == []
    finally:
        for sock in socks:
            sock.close()


def test_keep_alive_connection_must_send_its_next_request_in_time(
    served: tuple[str, int],
) -> None:
    with socket.create_connection(served, timeout=5) as sock:
        sock.sendall(b"GET /api/scans HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(12) == b"HTTP/1.1 200"
        sock.sendall(b"GET /api/scans HTTP/1.1\r\nHost: 127")  # then nothing more
        time.sleep(LIMITS.header_timeout + 0.5)
        sock.settimeout(1)
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        assert not rest.endswith(b"HTTP/1.1 200")  # closed, the second request never served


def test_oversized_headers_are_refused(served: tuple[str, int]) -> None:
    request = b"GET /api/scans HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 200_000
    with socket.create_connection(served, timeout=5) as sock:
        try:
            sock.sendall(request + b"\r\n\r\n")
            answer = sock.recv(12)
        except (BrokenPipeError, ConnectionResetError):
            answer = b""  # refused before it finished sending
    assert answer in (b"HTTP/1.1 400", b"")


def test_a_flood_of_one_error_logs_a_few_lines_and_one_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RepeatLimit())
    logger = logging.getLogger("test.flood")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for _ in range(20_000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                logger.exception("socket.accept() out of system resource")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert text.count("socket.accept() out of system resource") == LOG_BURST
    assert text.count("Traceback") == 1
    assert len(text) < 2_000


def test_serve_refuses_an_exposed_address_without_token(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cniguard.cli.main import app

    exposed = "0.0.0.0"  # noqa: S104
    result = CliRunner().invoke(
        app, ["serve", "--db", f"sqlite:///{tmp_path}/x.db", "--host", exposed]
    )
    assert result.exit_code == 2
    assert "reachable from other machines: give --token as well" in result.output
