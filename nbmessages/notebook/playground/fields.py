"""Small widgets the playground needs: an optional number, and a password field that never echoes its value."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

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
