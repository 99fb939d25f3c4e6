"""Key entry where no key is configured: a password box read once, emptied at once, the key kept in memory only."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from ...request.profiles import profile_for_key
from .fields import SecretField

PROFILES = [("auto (sk-or-… is OpenRouter)", ""), ("Anthropic", "anthropic"), ("OpenRouter", "openrouter")]


def guess_profile(key: str) -> str:
    """The backend a key belongs to, from its prefix."""
    return profile_for_key(key).name


class KeyEntry:
    """The key row: a password box, a backend choice and a button; ``on_key(key, profile)`` gets the key."""

    def __init__(self, on_key: Callable[[str, str], None]) -> None:
        self._on_key = on_key
        self.key = SecretField(placeholder="paste an API key: held in memory only, never saved",
                               continuous_update=False, layout=widgets.Layout(width="320px"))
        self.profile = widgets.Dropdown(options=PROFILES, value="", layout=widgets.Layout(width="220px"))
        self.button = widgets.Button(description="Use key", icon="key", layout=widgets.Layout(width="100px"))
        self.note = widgets.HTML()
        self.key.observe(self._typed, "value")
        self.button.on_click(lambda _button: self.take())
        self.box = widgets.VBox([widgets.HBox([widgets.Label("API key"), self.key, self.profile, self.button]),
                                 self.note])

    def _typed(self, change: dict) -> None:
        if change["new"]:
            self.take()

    def take(self) -> bool:
        """Read the typed key, empty the box at once, hand the key over; return whether there was one."""
        key = self.key.value.strip()
        if self.key.value:
            self.key.value = ""  # the synced value must never outlive this call (nor reach saved widget state)
        if not key:
            return False
        self._on_key(key, self.profile.value or guess_profile(key))
        return True

    def show(self, visible: bool, note: str = "") -> None:
        """Show or hide the row, with a note under it."""
        self.box.layout.display = None if visible else "none"
        self.note.value = note
