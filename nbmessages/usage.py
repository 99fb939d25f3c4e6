"""``nbmessages.usage``: the ledger as a DataFrame (call the module) and the summaries and plots of it.

One name, one meaning: ``nbmessages.usage(...)`` and ``nbmessages.usage.by_model(df)`` are the same module,
however it was first reached (``import nbmessages.usage``, ``from nbmessages.usage import ...`` or the attribute).
"""

from __future__ import annotations

import os
import sys
import types
from typing import TYPE_CHECKING, Any

from .ledger import frames
from .ledger.frames import (
    TimeLike,
    by_chat,
    by_day,
    by_model,
    by_session,
    cache_savings,
    cost_per_1k_output,
    latency,
    now_utc,
    plot_by_model,
    plot_spend,
    plot_tokens,
)
from .ledger.store import Ledger, get_ledger

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["by_chat", "by_day", "by_model", "by_session", "cache_savings", "cost_per_1k_output", "latency",
           "now_utc", "plot_by_model", "plot_spend", "plot_tokens", "usage"]


def usage(
    since: TimeLike = None,
    until: TimeLike = None,
    model: str | list[str] | None = None,
    session: str | list[str] | None = None,
    chat: str | list[str] | None = None,
    tags: dict[str, Any] | None = None,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    content: bool = False,
) -> pd.DataFrame:
    """The calls of the default ledger (or of ``ledger``: a Ledger or a path) as a DataFrame; filters as in
    ``nbmessages.ledger.frames.usage``: time range [since, until), model, session, chat, tags."""
    source = ledger if isinstance(ledger, Ledger) else get_ledger(ledger)
    return frames.usage(source, since, until, model, session, chat, tags, content)


class _CallableModule(types.ModuleType):
    """This module, callable as ``usage()``."""

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return usage(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
