"""The settings controls: one per row of the settings table that names a widget kind, laid out by section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from pydantic import BaseModel

from .. import settings as table
from ..settings import Setting
from .fields import NARROW, ListEntry, OptionalNumber
from .settings import namespace_functions, namespace_models

LABEL_WIDTH = {"description_width": "90px"}


def _bounded(row: Setting, value: Any, **kw: Any) -> widgets.Widget:
    """A number box (or a slider, for floats) within the row's bounds."""
    low, high, step = row.bounds or (1, 1_000_000, 1)
    if row.type is float:
        return widgets.FloatSlider(value, min=low, max=high, step=step, readout_format=".2f", **kw)
    return widgets.BoundedIntText(value, min=int(low), max=int(high), **kw)


class Control:
    """One setting's widget: how it is built, read and set (a subclass per widget kind of the table)."""

    def __init__(self, row: Setting, owner: Controls) -> None:
        self.row, self.owner = row, owner
        self.name = row.attribute
        self.widget = self.build()
        if not isinstance(self.widget, widgets.Box):  # a box's view in the front end fails on a tooltip
            self.widget.tooltip = self.widget.tooltip or row.help

    def build(self) -> widgets.Widget:
        """The widget."""
        raise NotImplementedError

    @property
    def parts(self) -> dict[str, widgets.Widget]:
        """The widgets this control makes, by attribute name."""
        return {self.name: self.widget}

    @property
    def shown(self) -> widgets.Widget:
        """What the panel lays out."""
        return self.widget

    def read(self) -> Any:
        """The setting's value."""
        return self.widget.value

    def write(self, value: Any) -> None:
        """Show ``value``."""
        self.widget.value = value

    def refresh(self) -> None:
        """Offer the namespace's current candidates (picking controls only)."""


class ComboboxControl(Control):
    """Free text with suggestions (the model)."""

    def build(self) -> widgets.Widget:
        return widgets.Combobox(value=self.row.default or "", placeholder=f"{self.name} (any name)",
                                ensure_option=False, description=self.name, style=LABEL_WIDTH,
                                layout=widgets.Layout(width="340px"))

    def read(self) -> Any:
        return self.widget.value.strip() or self.row.default

    def write(self, value: Any) -> None:
        self.suggest([*self.widget.options, value])
        self.widget.value = value

    def suggest(self, names: list[str]) -> None:
        """The values suggested (the current one stays among them)."""
        current = self.widget.value
        self.widget.options = tuple(dict.fromkeys([*names, current] if current else names))


class IntControl(Control):
    """A whole number within bounds (max_tokens)."""

    def build(self) -> widgets.Widget:
        return _bounded(self.row, self.row.default, description=self.name, style=LABEL_WIDTH,
                        layout=widgets.Layout(width="200px"))


class TextControl(Control):
    """A text box; empty sends nothing (the system prompt)."""

    def build(self) -> widgets.Widget:
        return widgets.Textarea(placeholder=f"{self.name} (optional)", description=self.name, style=LABEL_WIDTH,
                                layout=widgets.Layout(width="100%", height="52px"))

    def write(self, value: Any) -> None:
        self.widget.value = value or ""


class SliderControl(Control):
    """A number that may be left unset: a checkbox and a slider (temperature, top_p)."""

    def build(self) -> widgets.Widget:
        return OptionalNumber(self.name, _bounded(self.row, self.row.initial), tooltip=self.row.help)


class NumberControl(Control):
    """A whole number that may be left unset: a checkbox and a box (top_k)."""

    def build(self) -> widgets.Widget:
        box = _bounded(self.row, self.row.initial, layout=widgets.Layout(width="90px"))
        return OptionalNumber(self.name, box, tooltip=self.row.help)


class CheckControl(Control):
    """A checkbox: on or not asked (OpenRouter's router metadata)."""

    def build(self) -> widgets.Widget:
        return widgets.Checkbox(False, description=self.name.replace("_", " "), indent=False,
                                layout=widgets.Layout(width="auto"))

    def write(self, value: Any) -> None:
        self.widget.value = bool(value)


class ToggleControl(Control):
    """A checkbox and the number it turns on (thinking and its budget, ``thinking_budget``; a cache TTL)."""

    def build(self) -> widgets.Widget:
        self.amount = _bounded(self.row, self.row.initial, description=self.row.unit, disabled=True,
                               layout=widgets.Layout(width="180px"))
        check = widgets.Checkbox(False, description=self.name, indent=False, layout=NARROW)
        check.observe(lambda change: setattr(self.amount, "disabled", not change["new"]), "value")
        return check

    @property
    def parts(self) -> dict[str, widgets.Widget]:
        return {self.name: self.widget, f"{self.name}_{self.row.unit}": self.amount}

    @property
    def shown(self) -> widgets.Widget:
        return widgets.HBox([self.widget, self.amount])

    def read(self) -> Any:
        return self.amount.value if self.widget.value else None

    def write(self, value: Any) -> None:
        self.widget.value = bool(value)
        if isinstance(value, int) and not isinstance(value, bool):
            self.amount.value = value
        elif isinstance(value, dict) and value.get("budget_tokens"):  # a thinking dict, as the API takes it
            self.amount.value = int(value["budget_tokens"])


class ChoiceControl(Control):
    """One of the row's allowed values, or the API's default (effort)."""

    def build(self) -> widgets.Widget:
        options = [("default", ""), *((str(c), c) for c in self.row.choices)]
        return widgets.Dropdown(options=options, value="", description=self.name,
                                layout=widgets.Layout(width="200px"))

    def read(self) -> Any:
        return self.widget.value or None

    def write(self, value: Any) -> None:
        self.widget.value = value or ""


class TagsControl(Control):
    """A list of texts (stop sequences, OpenRouter's provider order and fallback models): type one, press Enter."""

    def build(self) -> widgets.Widget:
        entry = ListEntry(self.row.placeholder or f"{self.row.help}, then Enter")
        entry.entry.tooltip = self.row.help
        return entry

    @property
    def shown(self) -> widgets.Widget:
        label = widgets.Label(self.row.name.replace("_", " "), layout=widgets.Layout(width="110px"))
        return widgets.HBox([label, self.widget])

    def read(self) -> Any:
        return list(self.widget.value)

    def write(self, value: Any) -> None:
        self.widget.value = [value] if isinstance(value, str) else list(value or ())


class PickControl(Control):
    """Items picked by name from the notebook (the row's ``pick``: tool functions, or schema models)."""

    def candidates(self) -> dict[str, Any]:
        """The namespace's candidates, plus any passed as defaults."""
        return self.owner.candidates(self.row.pick)

    def names(self, value: Any) -> list[str]:
        """The names of picked items; a function or class passed directly becomes a candidate."""
        items = list(value or ()) if self.row.many else [value] if value else []
        return [self.owner.adopt(self.row.pick, item) for item in items]


class PickManyControl(PickControl):
    """Several items picked from the notebook (tools)."""

    def build(self) -> widgets.Widget:
        return widgets.SelectMultiple(options=[], rows=4, description=self.name, style=LABEL_WIDTH,
                                      layout=widgets.Layout(width="340px"))

    def read(self) -> Any:
        found = self.candidates()
        missing = [name for name in self.widget.value if name not in found]
        if missing:
            raise LookupError(f"{self.name}: no function named {', '.join(missing)} in the notebook any more")
        return [found[name] for name in self.widget.value]

    def write(self, value: Any) -> None:
        names = self.names(value)
        self.refresh()
        self.widget.value = tuple(names)

    def refresh(self) -> None:
        found = self.candidates()
        chosen = tuple(name for name in self.widget.value if name in found)
        self.widget.options = sorted(found)
        self.widget.value = chosen


class PickOneControl(PickControl):
    """One item picked from the notebook, or none (the output schema)."""

    def build(self) -> widgets.Widget:
        return widgets.Dropdown(options=[("none", "")], value="", description=f"output {self.name}",
                                style=LABEL_WIDTH, layout=widgets.Layout(width="340px"))

    def read(self) -> Any:
        return self.candidates().get(self.widget.value) if self.widget.value else None

    def write(self, value: Any) -> None:
        names = self.names(value)
        self.refresh()
        self.widget.value = names[0] if names else ""

    def refresh(self) -> None:
        found = self.candidates()
        chosen = self.widget.value if self.widget.value in found else ""
        self.widget.options = [("none", ""), *((name, name) for name in sorted(found))]
        self.widget.value = chosen


KINDS: dict[str, type[Control]] = {
    "combobox": ComboboxControl, "int": IntControl, "textarea": TextControl, "slider": SliderControl,
    "number": NumberControl, "toggle": ToggleControl, "check": CheckControl, "choice": ChoiceControl, "tags": TagsControl,
    "pick_many": PickManyControl, "pick_one": PickOneControl,
}


class Controls:
    """Every settings widget, as attributes (``widgets`` by name); ``settings()`` reads them, ``apply()`` sets them."""

    def __init__(self, namespace: Callable[[], dict[str, Any]]) -> None:
        self._namespace = namespace
        self._extra: dict[str, dict[str, Any]] = {}  # items passed as defaults, by pick kind
        self.controls: dict[str, Control] = {}
        for row in table.rows(widget=True):
            if row.widget not in KINDS:
                raise ValueError(f"settings table: the row {row.name!r} names an unknown widget kind {row.widget!r}")
            self.controls[row.name] = KINDS[row.widget](row, self)
        self.widgets: dict[str, widgets.Widget] = {n: w for c in self.controls.values() for n, w in c.parts.items()}
        for name, widget in self.widgets.items():
            setattr(self, name, widget)
        self.refresh_namespace()

    # -- the namespace's functions and models

    def candidates(self, pick: str | None) -> dict[str, Any]:
        """What picking controls offer: the namespace's functions (``tool``) or models (``model``), plus defaults."""
        ns = self._namespace()
        found = namespace_functions(ns) if pick == "tool" else namespace_models(ns)
        return {**found, **self._extra.get(pick or "", {})}

    def adopt(self, pick: str | None, item: Any) -> str:
        """The name of an item to pick; a function or class passed directly is offered from now on."""
        if callable(item):
            self._extra.setdefault(pick or "", {})[item.__name__] = item
            return str(item.__name__)
        return str(item)

    def functions(self) -> dict[str, Callable[..., Any]]:
        """Functions that may be tools: the namespace's, plus any passed as defaults."""
        return self.candidates("tool")

    def models(self) -> dict[str, type[BaseModel]]:
        """Pydantic models that may be the output schema: the namespace's, plus any passed as defaults."""
        return self.candidates("model")

    def refresh_namespace(self) -> None:
        """Offer the namespace's current functions and models (selections that still exist are kept)."""
        for control in self.controls.values():
            control.refresh()

    def set_model_options(self, names: list[str]) -> None:
        """The model names the model box suggests (free text stays allowed)."""
        model = self.controls["model"]
        assert isinstance(model, ComboboxControl)
        model.suggest(names)

    # -- reading and setting

    def settings(self) -> dict[str, Any]:
        """The current settings as plain values (functions and model classes resolved)."""
        return {name: control.read() for name, control in self.controls.items()}

    def apply(self, values: dict[str, Any]) -> None:
        """Set controls from settings (as ``playground(**defaults)`` takes them)."""
        for name, value in values.items():
            self.controls[table.row(name).name].write(value)

    # -- layout

    def panel(self) -> widgets.Widget:
        """The settings, laid out: the top row and the text boxes, then a folded section per table section."""
        top = [c for c in self.controls.values() if not c.row.section]
        row = widgets.HBox([c.shown for c in top if not isinstance(c, TextControl)],
                           layout=widgets.Layout(flex_flow="row wrap"))
        texts = [c.shown for c in top if isinstance(c, TextControl)]
        titles = list(dict.fromkeys(c.row.section for c in self.controls.values() if c.row.section))
        sections = [widgets.VBox([c.shown for c in self.controls.values() if c.row.section == title])
                    for title in titles]
        return widgets.VBox([row, *texts, widgets.Accordion(children=sections, titles=tuple(titles))])
