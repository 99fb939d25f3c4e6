"""Small widgets the playground needs: an optional number, a list entry, and a password field that never echoes."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from traitlets import List, Unicode

NARROW = widgets.Layout(width="auto")


class OptionalNumber(widgets.HBox):
    """A number that may be left unset (not sent): a checkbox and a slider or box; ``value`` is None when unset."""

    def __init__(self, description: str, control: widgets.ValueWidget, tooltip: str = "") -> None:
        self.enabled = widgets.Checkbox(False, description=description, indent=False, layout=NARROW,
                                        tooltip=tooltip or f"send {description} (unset: the API's default)")
        self.control = control
        control.disabled = True
        self.enabled.observe(lambda change: setattr(control, "disabled", not change["new"]), "value")
        super().__init__([self.enabled, control], layout=widgets.Layout(align_items="center"))

    @property
    def value(self) -> Any:
        """The number, or None when the checkbox is off."""
        return self.control.value if self.enabled.value else None

    @value.setter
    def value(self, new: Any) -> None:
        if new is None:
            self.enabled.value = False
        else:
            self.control.value = new
            self.enabled.value = True


class SecretField(widgets.Password):
    """A password box whose value is never echoed to other front ends (it is cleared right after use)."""

    value = Unicode("", help="The typed secret; the playground empties it as soon as it is read").tag(
        sync=True, echo_update=False
    )


class ListEntry(widgets.VBox):
    """A list of strings (stop sequences, models, providers): type one and press Enter; click one to remove it.

    ``value`` is the list. Replaces ipywidgets' TagsInput, which in JupyterLab added nothing on Enter and was a
    tiny box with no placeholder.
    """

    value = List(Unicode(), help="The entries, in order")

    def __init__(self, placeholder: str, allow_duplicates: bool = False, width: str = "340px") -> None:
        self.allow_duplicates = allow_duplicates
        self.entry = widgets.Text(placeholder=placeholder, continuous_update=False,  # sent on Enter (or leaving)
                                  layout=widgets.Layout(width=width))
        self.entries = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([self.entry, self.entries])
        self.entry.observe(self._entered, "value")
        self.observe(lambda _change: self._draw(), "value")

    def _entered(self, change: dict[str, Any]) -> None:
        text = change["new"]
        if not text.strip():
            return
        if self.allow_duplicates or text not in self.value:
            self.value = [*self.value, text]
        self.entry.value = ""

    def _draw(self) -> None:
        buttons = []
        for i, text in enumerate(self.value):
            button = widgets.Button(description=f"{text} ✕", tooltip=f"remove {text!r}",
                                    layout=widgets.Layout(width="auto"))
            button.on_click(lambda _b, i=i: self._remove(i))
            buttons.append(button)
        self.entries.children = buttons

    def _remove(self, index: int) -> None:
        self.value = [v for i, v in enumerate(self.value) if i != index]
