"""The settings controls, one per row of the settings table that names a widget kind, laid out by section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from pydantic import BaseModel

from .. import settings as table
from ..settings import Setting
from .fields import NARROW, OptionalNumber
from .settings import namespace_functions, namespace_models

WIDE = widgets.Layout(width="100%")
LABEL_WIDTH = {"description_width": "90px"}


def _bounded(row: Setting, value: Any, **kw: Any) -> widgets.Widget:
    low, high, step = row.bounds or (1, 1_000_000, 1)
    if row.type is float:
        return widgets.FloatSlider(value, min=low, max=high, step=step, readout_format=".2f", **kw)
    return widgets.BoundedIntText(value, min=int(low), max=int(high), **kw)


def _labelled(text: str, control: widgets.Widget) -> widgets.Widget:
    return widgets.HBox([widgets.Label(text, layout=widgets.Layout(width="110px")), control])


class Controls:
    """Every settings widget, as attributes (``controls.widgets`` by name); ``settings()`` reads, ``apply()`` sets."""

    def __init__(self, namespace: Callable[[], dict[str, Any]]) -> None:
        self._namespace = namespace
        self._extra: dict[str, dict[str, Any]] = {"tool": {}, "model": {}}  # passed as defaults, not in the namespace
        self.rows = table.rows(widget=True)
        self.widgets: dict[str, widgets.Widget] = {}
        self._shown: dict[str, widgets.Widget] = {}  # what the panel lays out for each row
        for row in self.rows:
            self._build(row)
        for name, control in self.widgets.items():
            setattr(self, name, control)
        self.refresh_namespace()

    # -- one control per widget kind

    def _build(self, row: Setting) -> None:
        name, kind = row.attribute, row.widget
        control: widgets.Widget
        if kind == "combobox":
            control = widgets.Combobox(value=row.default or "", placeholder=f"{name} (any name)", ensure_option=False,
                                       description=name, style=LABEL_WIDTH, layout=widgets.Layout(width="340px"))
        elif kind == "int":
            control = _bounded(row, row.default, description=name, style=LABEL_WIDTH,
                               layout=widgets.Layout(width="200px"))
        elif kind == "textarea":
            control = widgets.Textarea(placeholder=f"{name} (optional)", description=name, style=LABEL_WIDTH,
                                       layout=widgets.Layout(width="100%", height="52px"))
        elif kind in ("slider", "number"):
            inner = _bounded(row, row.initial, **({} if kind == "slider" else {"layout": widgets.Layout(width="90px")}))
            control = OptionalNumber(name, inner, tooltip=row.help)
        elif kind == "toggle":  # a checkbox, and the number it turns on (thinking and its budget)
            control = widgets.Checkbox(False, description=name, indent=False, layout=NARROW)
            amount = _bounded(row, row.initial, description="budget", layout=widgets.Layout(width="180px"),
                              disabled=True)
            control.observe(lambda c, a=amount: setattr(a, "disabled", not c["new"]), "value")
            self.widgets[f"{name}_budget"] = amount
            self._shown[row.name] = widgets.HBox([control, amount])
        elif kind == "choice":
            control = widgets.Dropdown(options=[("default", ""), *((str(c), c) for c in row.choices)], value="",
                                       description=name, layout=widgets.Layout(width="200px"))
        elif kind == "tags":
            control = widgets.TagsInput(value=[], allow_duplicates=False)
            self._shown[row.name] = _labelled(name.replace("_", " "), control)
        elif kind == "pick_many":
            control = widgets.SelectMultiple(options=[], rows=4, description=name, style=LABEL_WIDTH,
                                             layout=widgets.Layout(width="340px"))
        elif kind == "pick_one":
            control = widgets.Dropdown(options=[("none", "")], value="", description=f"output {name}",
                                       style=LABEL_WIDTH, layout=widgets.Layout(width="340px"))
        else:
            raise ValueError(f"settings table: the row {row.name!r} names an unknown widget kind {kind!r}")
        control.tooltip = control.tooltip or row.help
        self.widgets[name] = control
        self._shown.setdefault(row.name, control)

    # -- the namespace's functions and models

    def candidates(self, pick: str | None) -> dict[str, Any]:
        """What a picking control offers: the namespace's functions (tools) or models (schemas), plus defaults."""
        found = namespace_functions(self._namespace()) if pick == "tool" else namespace_models(self._namespace())
        return {**found, **self._extra.get(pick or "", {})}

    def functions(self) -> dict[str, Callable[..., Any]]:
        """Functions that may be tools: the namespace's, plus any passed as defaults."""
        return self.candidates("tool")

    def models(self) -> dict[str, type[BaseModel]]:
        """Pydantic models that may be the output schema: the namespace's, plus any passed as defaults."""
        return self.candidates("model")

    def refresh_namespace(self) -> None:
        """Offer the namespace's current functions and models (selections that still exist are kept)."""
        for row in self.rows:
            control = self.widgets[row.attribute]
            found = self.candidates(row.pick)
            if row.widget == "pick_many":
                chosen = tuple(t for t in control.value if t in found)
                control.options = sorted(found)
                control.value = chosen
            elif row.widget == "pick_one":
                chosen_one = control.value if control.value in found else ""
                control.options = [("none", ""), *((name, name) for name in sorted(found))]
                control.value = chosen_one

    def set_model_options(self, names: list[str]) -> None:
        """The model names the Combobox suggests (free text stays allowed)."""
        model = self.widgets["model"]
        current = model.value
        model.options = tuple(dict.fromkeys([*names, current] if current else names))

    # -- reading and setting

    def settings(self) -> dict[str, Any]:
        """The current settings as plain values (functions and model classes resolved)."""
        return {row.name: self._read(row) for row in self.rows}

    def _read(self, row: Setting) -> Any:
        control, kind = self.widgets[row.attribute], row.widget
        if kind == "combobox":
            return control.value.strip() or row.default
        if kind == "toggle":
            return self.widgets[f"{row.attribute}_budget"].value if control.value else None
        if kind == "choice":
            return control.value or None
        if kind == "tags":
            return list(control.value)
        found = self.candidates(row.pick)
        if kind == "pick_many":
            missing = [name for name in control.value if name not in found]
            if missing:
                raise LookupError(f"{row.name}: no function named {', '.join(missing)} in the notebook any more")
            return [found[name] for name in control.value]
        if kind == "pick_one":
            return found.get(control.value) if control.value else None
        return control.value

    def apply(self, values: dict[str, Any]) -> None:
        """Set controls from settings (as ``playground(**defaults)`` takes them)."""
        for name, value in values.items():
            self._write(table.row(name), value)

    def _write(self, row: Setting, value: Any) -> None:
        control, kind = self.widgets[row.attribute], row.widget
        if kind == "combobox":
            control.options = tuple(dict.fromkeys([*control.options, value]))
            control.value = value
        elif kind == "textarea":
            control.value = value or ""
        elif kind == "toggle":
            control.value = bool(value)
            if isinstance(value, int) and not isinstance(value, bool):
                self.widgets[f"{row.attribute}_budget"].value = value
        elif kind == "choice":
            control.value = value or ""
        elif kind == "tags":
            control.value = [value] if isinstance(value, str) else list(value or ())
        elif kind in ("pick_many", "pick_one"):
            items = list(value or ()) if kind == "pick_many" else [value] if value else []
            names = [self._adopt(row, item) for item in items]
            self.refresh_namespace()
            control.value = tuple(names) if kind == "pick_many" else (names[0] if names else "")
        else:
            control.value = value

    def _adopt(self, row: Setting, item: Any) -> str:
        """The name of a picked item; a function or class passed directly becomes a candidate."""
        if callable(item):
            self._extra[row.pick or ""][item.__name__] = item
            return str(item.__name__)
        return str(item)

    # -- layout

    def panel(self) -> widgets.Widget:
        """The settings, laid out: the top row and the text boxes, then a folded section per table section."""
        top = [self._shown[r.name] for r in self.rows if not r.section and r.widget != "textarea"]
        texts = [self._shown[r.name] for r in self.rows if not r.section and r.widget == "textarea"]
        titles = list(dict.fromkeys(r.section for r in self.rows if r.section))
        sections = [widgets.VBox([self._shown[r.name] for r in self.rows if r.section == t]) for t in titles]
        folded = widgets.Accordion(children=sections, titles=tuple(titles))
        return widgets.VBox([widgets.HBox(top, layout=widgets.Layout(flex_flow="row wrap")), *texts, folded])
