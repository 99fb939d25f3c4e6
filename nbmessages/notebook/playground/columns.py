"""Answer columns: one per conversation, side by side when comparing two to four models or settings."""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets

from .conversation import Exchange, Thread
from .html import exchange_html, stats_html
from .settings import label, normalise

UPDATE_INTERVAL = 0.1  # at most 10 redraws a second per column
MAX_COLUMNS = 4
EMPTY = '<div style="color:#888">(no messages yet)</div>'


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
    """One answer column: a title, a usage line, and one HTML widget per exchange (only the live one changes)."""

    def __init__(self, thread: Thread, titled: bool) -> None:
        self.thread = thread
        self.title = widgets.HTML(f"<b>{html.escape(label(thread.overrides))}</b>" if titled else "")
        self.stats = widgets.HTML()
        self.answer = widgets.VBox()
        self._views: dict[int, tuple[Exchange, widgets.HTML]] = {}  # by id() of the exchange
        self._final: set[int] = set()  # exchanges whose widget holds the final rendering
        self._empty = widgets.HTML(EMPTY)
        self.box = widgets.VBox([self.title, self.stats, self.answer],
                                layout=widgets.Layout(flex="1 1 0", min_width="0", overflow="auto",
                                                      border="1px solid #ddd" if titled else "", padding="4px"))
        self._last = float("-inf")
        self.refresh(force=True)

    @property
    def html(self) -> str:
        """The whole conversation of the column as shown."""
        return "".join(child.value for child in self.answer.children)

    def refresh(self, force: bool = False) -> None:
        """Redraw from the thread (at most ``1 / UPDATE_INTERVAL`` times a second unless forced)."""
        now = time.monotonic()
        if not force and now - self._last < UPDATE_INTERVAL:
            return
        self._last = now
        views = [self._view(ex) for ex in self.thread.exchanges] or [self._empty]
        if list(self.answer.children) != views:
            self.answer.children = views
        self._forget_gone()  # after the box let go of them
        self.stats.value = stats_html(self.thread.last)

    def _view(self, ex: Exchange) -> widgets.HTML:
        key = id(ex)
        if key not in self._views:
            self._views[key] = (ex, widgets.HTML())
        view = self._views[key][1]
        if key not in self._final:
            view.value = exchange_html(ex)  # finished exchanges are drawn once and left alone
            if ex.done:
                self._final.add(key)
        return view

    def _forget_gone(self) -> None:
        alive = {id(ex): ex for ex in self.thread.exchanges}
        for key, (ex, view) in list(self._views.items()):
            if alive.get(key) is not ex:  # dropped by clear or edit last (held here, so its id() is not reused)
                del self._views[key]
                self._final.discard(key)
                view.close()
