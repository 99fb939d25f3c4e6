"""Fixtures shared by the tests: the embedded servers and an HTTP client (the environment is set in ../conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from bad_server import BadServer
from IPython.core.interactiveshell import InteractiveShell

import nbmessages.notebook.magic.magics
from nbmessages.local import LocalServer, start
from tests.shell_cells import run


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


@pytest.fixture
def ip(server, monkeypatch):
    """A real IPython shell with the magics loaded, its session pointed at the fast server."""
    monkeypatch.setenv("NBMESSAGES_DISPLAY", "live")
    monkeypatch.setenv("NBMESSAGES_LEDGER", ":memory:")
    shell = InteractiveShell.instance()
    nbmessages.notebook.magic.magics.reset_session()
    shell.run_cell("%load_ext nbmessages")
    run(shell, f"%nbmessages base_url {server.base_url}")
    yield shell
    nbmessages.notebook.magic.magics.reset_session()


@pytest.fixture(scope="module")
def bad_server() -> Iterator[BadServer]:
    """A loopback server answering whatever each test scripts in ``bad_server.handler``."""
    with BadServer() as running:
        yield running
