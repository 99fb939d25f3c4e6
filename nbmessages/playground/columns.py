"""Answer columns: one per conversation, side by side when comparing two to four models or settings."""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets

from .conversation import Thread
from .settings import label, normalise
from .view import ThreadView, stats_html

UPDATE_INTERVAL = 0.1  # at most 10 redraws a second per column
MAX_COLUMNS = 4


def compare_settings(items: list[Any]) -> list[dict[str, Any]]:
    """Column overrides from ``compare=[...]``: model names or dicts of settings, two to four of them."""
    settings = [{"model": item} if isinstance(item, str) else normalise(dict(item)) for item in items]
    if settings and not 2 <= len(settings) <= MAX_COLUMNS:
        raise ValueError(f"compare: give 2 to {MAX_COLUMNS} models or settings (got {len(settings)})")
    return settings


def settings_for_tags(tags: list[str], current: list[dict[str, Any]], default_model: str) -> list[dict[str, Any]]:
    """Column overrides after the model tags were edited (a tag keeps the settings it had)."""
    pool = list(current)
    out = []
    for tag in tags:
        found = next((s for s in pool if s.get("model", default_model) == tag), None)
        if found is not None:
            pool.remove(found)
        out.append(found or {"model": tag})
    return out


class Column:
    """One answer column: its conversation, a title, a usage line and the rendered conversation."""

    def __init__(self, thread: Thread, titled: bool) -> None:
        self.thread = thread
        self.view = ThreadView()
        self.title = widgets.HTML(f"<b>{html.escape(label(thread.overrides))}</b>" if titled else "")
        self.stats = widgets.HTML()
        self.answer = widgets.HTML(self.view.html(thread))
        self.box = widgets.VBox([self.title, self.stats, self.answer],
                                layout=widgets.Layout(flex="1 1 0", min_width="0", overflow="auto",
                                                      border="1px solid #ddd" if titled else "", padding="4px"))
        self._last = float("-inf")

    def refresh(self, force: bool = False) -> None:
        """Redraw from the thread (at most ``1 / UPDATE_INTERVAL`` times a second unless forced)."""
        now = time.monotonic()
        if not force and now - self._last < UPDATE_INTERVAL:
            return
        self._last = now
        self.answer.value = self.view.html(self.thread)
        self.stats.value = stats_html(self.thread.last)
