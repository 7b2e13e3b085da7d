"""A moto server behind the loopback fake, shared by the session and reset for every test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ holds the shared fakes (also used by bench/); pytest runs with --import-mode=importlib,
# which puts nothing on sys.path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes.proxy import FakeAws, reset_moto, start_moto


@pytest.fixture(scope="session")
def fake_endpoint() -> Iterator[FakeAws]:
    moto = start_moto()
    host, port = moto.get_host_and_port()
    fake = FakeAws(host, port).start()
    yield fake
    fake.stop()
    moto.stop()


@pytest.fixture
def aws(fake_endpoint: FakeAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeAws:
    """A clean fake AWS reached only through AWS_ENDPOINT_URL, with dummy credentials."""
    reset_moto(*fake_endpoint.moto)
    fake_endpoint.reset()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", fake_endpoint.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    return fake_endpoint
