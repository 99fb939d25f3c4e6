"""The test session never touches the user's ledger or keys: notebooks' kernels inherit this environment too."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import httpx
import pytest
from bad_server import BadServer
from IPython.core.interactiveshell import InteractiveShell

import nbmessages.notebook.magic.magics
from nbmessages.local import LocalServer, start
from tests.shell_cells import run

KEY_AND_ENDPOINT_VARIABLES = (
    "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "ANTHROPIC_BASE_URL", "OPENROUTER_BASE_URL", "NBMESSAGES_BASE_URL",
    "NBMESSAGES_PROFILE", "NBMESSAGES_API_KEY", "NBMESSAGES_RECORD", "NBMESSAGES_REPLAY",
)
_saved: dict[str, str | None] = {}
_tmp: tempfile.TemporaryDirectory[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    # set at configure time, before nbval starts any kernel, so notebooks run offline on a throwaway ledger
    global _tmp
    _tmp = tempfile.TemporaryDirectory(prefix="nbmessages-tests-")
    for name in (*KEY_AND_ENDPOINT_VARIABLES, "NBMESSAGES_LEDGER"):
        _saved[name] = os.environ.pop(name, None)
    os.environ["NBMESSAGES_LEDGER"] = os.path.join(_tmp.name, "usage.sqlite")


def pytest_unconfigure(config: pytest.Config) -> None:
    for name, value in _saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value
    if _tmp is not None:
        _tmp.cleanup()


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
