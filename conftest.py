"""The test session never touches the user's ledger or keys: notebooks' kernels inherit this environment too.

At the root so that it holds for every run: ``pytest tests``, ``pytest notebooks`` (nbval) or both.
"""

from __future__ import annotations

import os
import tempfile

import pytest

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
