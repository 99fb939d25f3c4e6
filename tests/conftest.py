"""Fixtures shared by the tests: the embedded servers and an HTTP client (the environment is set in ../conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bad_server import BadServer

from nbmessages.local import LocalServer, start


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """The embedded server streaming as fast as it can, one per test module."""
    with start(pace=0, ttft=0) as running:
        yield running


@pytest.fixture(scope="module")
def slow_server() -> Iterator[LocalServer]:
    """20 tokens a second: an answer takes seconds, so there is time to look at it mid-stream."""
    with start(pace=20, ttft=0) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: LocalServer) -> Iterator[httpx.Client]:
    """An httpx client on the fast server."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def bad_server() -> Iterator[BadServer]:
    """A loopback server answering whatever each test scripts in ``bad_server.handler``."""
    with BadServer() as running:
        yield running


@pytest.fixture(scope="module")
def batch_server() -> Iterator[LocalServer]:
    """The embedded server finishing each Message Batch in 0.2 s."""
    with start(pace=0, ttft=0, batch_delay=0.2) as running:
        yield running


@pytest.fixture()
def ledger_path(tmp_path: Path) -> str:
    """A fresh ledger file's path."""
    return str(tmp_path / "usage.sqlite")
