"""Shared fixtures: every test writes its ledger to a temporary file, never to the user's home."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _ledger_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv("NBMESSAGES_LEDGER", str(tmp_path_factory.mktemp("ledger") / "usage.sqlite"))
    for name in ("ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "ANTHROPIC_BASE_URL", "NBMESSAGES_BASE_URL",
                 "NBMESSAGES_PROFILE", "OPENROUTER_BASE_URL", "NBMESSAGES_API_KEY"):
        mp.delenv(name, raising=False)
    yield
    mp.undo()
