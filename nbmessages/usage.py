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
    by_chat,
    by_day,
    by_model,
    by_session,
    by_tag,
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

__all__ = ["by_chat", "by_day", "by_model", "by_session", "by_tag", "cache_savings", "cost_per_1k_output", "latency",
           "now_utc", "plot_by_model", "plot_spend", "plot_tokens", "usage"]


def usage(*filters: Any, ledger: Ledger | str | os.PathLike[str] | None = None, **named: Any) -> pd.DataFrame:
    """The calls of the default ledger (or of ``ledger``: a Ledger or a path) as a DataFrame.

    The filters are ``nbmessages.ledger.frames.usage``'s: since, until, model, session, chat, tags, content.
    """
    return frames.usage(ledger if isinstance(ledger, Ledger) else get_ledger(ledger), *filters, **named)


class _CallableModule(types.ModuleType):
    """This module, callable as ``usage()``."""

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return usage(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
