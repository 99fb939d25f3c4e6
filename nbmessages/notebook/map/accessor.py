"""``df.messages.map(prompt, ...)`` and ``series.messages.map(...)``: the pandas accessor of ``nbmessages.map``.

Registered when ``nbmessages.notebook.map`` is first imported, which ``nbmessages.map`` does on first use.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .run import map as run_map


class MessagesAccessor:
    """``.messages`` on a DataFrame or Series."""

    def __init__(self, data: pd.DataFrame | pd.Series) -> None:
        self._data = data

    def map(self, prompt: str | None = None, **options: Any) -> Any:
        """``nbmessages.map(this, prompt, **options)``: one result row per row, same index."""
        return run_map(self._data, prompt, **options)

    def estimate(self, prompt: str | None = None, **options: Any) -> Any:
        """The preview of that map (``dry_run=True``): nothing is sent."""
        return run_map(self._data, prompt, dry_run=True, **options)


def register() -> None:
    """Register ``.messages`` on DataFrame and Series (once)."""
    if "messages" not in getattr(pd.DataFrame, "_accessors", set()):
        pd.api.extensions.register_dataframe_accessor("messages")(MessagesAccessor)
    if "messages" not in getattr(pd.Series, "_accessors", set()):
        pd.api.extensions.register_series_accessor("messages")(MessagesAccessor)
