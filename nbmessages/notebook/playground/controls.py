"""The settings controls: model, prompts, sampling, thinking, effort, stops, tools, schema, OpenRouter routing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from pydantic import BaseModel

from .fields import NARROW, ListEntry, OptionalNumber
from .settings import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    DEFAULT_THINKING_BUDGET,
    namespace_functions,
    namespace_models,
)

EFFORTS = [("default", ""), ("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "xhigh"),
           ("max", "max")]
WIDE = widgets.Layout(width="100%")
LABEL_WIDTH = {"description_width": "90px"}


class Controls:
    """Every settings widget, as attributes; ``settings()`` reads them, ``apply()`` sets them."""

    def __init__(self, namespace: Callable[[], dict[str, Any]]) -> None:
        self._namespace = namespace
        self._extra_functions: dict[str, Callable[..., Any]] = {}
        self._extra_models: dict[str, type[BaseModel]] = {}
        self.model = widgets.Combobox(value=DEFAULT_MODEL, placeholder="model (any name)", ensure_option=False,
                                      description="model", style=LABEL_WIDTH, layout=widgets.Layout(width="340px"))
        self.max_tokens = widgets.BoundedIntText(DEFAULT_MAX_TOKENS, min=1, max=1_000_000, description="max_tokens",
                                                 style=LABEL_WIDTH, layout=widgets.Layout(width="200px"))
        self.system = widgets.Textarea(placeholder="system prompt (optional)", description="system",
                                       style=LABEL_WIDTH, layout=widgets.Layout(width="100%", height="52px"))
        self.temperature = OptionalNumber("temperature", widgets.FloatSlider(1.0, min=0, max=1, step=0.05,
                                                                              readout_format=".2f"))
        self.top_p = OptionalNumber("top_p", widgets.FloatSlider(0.95, min=0, max=1, step=0.01,
                                                                  readout_format=".2f"))
        self.top_k = OptionalNumber("top_k", widgets.BoundedIntText(40, min=1, max=1000,
                                                                     layout=widgets.Layout(width="90px")))
        self.thinking = widgets.Checkbox(False, description="thinking", indent=False, layout=NARROW)
        self.thinking_budget = widgets.BoundedIntText(DEFAULT_THINKING_BUDGET, min=1024, max=1_000_000,
                                                      description="budget", layout=widgets.Layout(width="180px"))
        self.effort = widgets.Dropdown(options=EFFORTS, value="", description="effort",
                                       layout=widgets.Layout(width="200px"))
        self.stop_sequences = ListEntry("a stop sequence, then Enter")
        self.tools = widgets.SelectMultiple(options=[], rows=4, description="tools", style=LABEL_WIDTH,
                                            layout=widgets.Layout(width="340px"))
        self.schema = widgets.Dropdown(options=[("none", "")], value="", description="output schema",
                                       style=LABEL_WIDTH, layout=widgets.Layout(width="340px"))
        self.provider_order = ListEntry("a provider (e.g. anthropic), then Enter")
        self.fallback_models = ListEntry("a fallback model (e.g. anthropic/claude-haiku-4.5), then Enter")
        self.thinking.observe(lambda c: setattr(self.thinking_budget, "disabled", not c["new"]), "value")
        self.thinking_budget.disabled = True
        self.refresh_namespace()

    # -- the namespace's functions and models

    def functions(self) -> dict[str, Callable[..., Any]]:
        """Functions that may be tools: the namespace's, plus any passed as defaults."""
        return {**namespace_functions(self._namespace()), **self._extra_functions}

    def models(self) -> dict[str, type[BaseModel]]:
        """Pydantic models that may be the output schema: the namespace's, plus any passed as defaults."""
        return {**namespace_models(self._namespace()), **self._extra_models}

    def refresh_namespace(self) -> None:
        """Offer the namespace's current functions and models (selections that still exist are kept)."""
        chosen_tools = [t for t in self.tools.value if t in self.functions()]
        self.tools.options = sorted(self.functions())
        self.tools.value = tuple(chosen_tools)
        chosen_schema = self.schema.value if self.schema.value in self.models() else ""
        self.schema.options = [("none", ""), *((name, name) for name in sorted(self.models()))]
        self.schema.value = chosen_schema

    def set_model_options(self, names: list[str]) -> None:
        """The model names the Combobox suggests (free text stays allowed)."""
        current = self.model.value
        self.model.options = tuple(dict.fromkeys([*names, current] if current else names))

    # -- reading and setting

    def settings(self) -> dict[str, Any]:
        """The current settings as plain values (functions and model classes resolved)."""
        functions, models = self.functions(), self.models()
        missing = [name for name in self.tools.value if name not in functions]
        if missing:
            raise LookupError(f"tools: no function named {', '.join(missing)} in the notebook any more")
        return {
            "model": self.model.value.strip() or DEFAULT_MODEL,
            "system": self.system.value,
            "max_tokens": self.max_tokens.value,
            "temperature": self.temperature.value,
            "top_p": self.top_p.value,
            "top_k": self.top_k.value,
            "thinking": self.thinking_budget.value if self.thinking.value else None,
            "effort": self.effort.value or None,
            "stop_sequences": list(self.stop_sequences.value),
            "tools": [functions[name] for name in self.tools.value],
            "output_format": models.get(self.schema.value) if self.schema.value else None,
            "provider_order": list(self.provider_order.value),
            "fallback_models": list(self.fallback_models.value),
        }

    def apply(self, settings: dict[str, Any]) -> None:
        """Set controls from settings (as ``playground(**defaults)`` takes them)."""
        for name, value in settings.items():
            getattr(self, f"_apply_{name}", lambda v, n=name: self._apply_plain(n, v))(value)

    def _apply_plain(self, name: str, value: Any) -> None:
        control = getattr(self, name)
        control.value = list(value or ()) if isinstance(control, ListEntry) else value

    def _apply_model(self, value: str) -> None:
        self.set_model_options([*self.model.options, value])
        self.model.value = value

    def _apply_system(self, value: str | None) -> None:
        self.system.value = value or ""

    def _apply_thinking(self, value: Any) -> None:
        self.thinking.value = bool(value)
        if isinstance(value, int) and not isinstance(value, bool):
            self.thinking_budget.value = value

    def _apply_effort(self, value: str | None) -> None:
        self.effort.value = value or ""

    def _apply_stop_sequences(self, value: Any) -> None:
        self.stop_sequences.value = [value] if isinstance(value, str) else list(value or ())

    def _apply_tools(self, value: Any) -> None:
        names = []
        for item in value or ():
            if callable(item):
                self._extra_functions[item.__name__] = item
                names.append(item.__name__)
            else:
                names.append(str(item))
        self.refresh_namespace()
        self.tools.value = tuple(names)

    def _apply_output_format(self, value: Any) -> None:
        if isinstance(value, type):
            self._extra_models[value.__name__] = value
            value = value.__name__
        self.refresh_namespace()
        self.schema.value = value or ""

    # -- layout

    def panel(self) -> widgets.Widget:
        """The settings, laid out: the main row and system prompt, then folded sections."""
        top = widgets.HBox([self.model, self.max_tokens], layout=widgets.Layout(flex_flow="row wrap"))
        sampling = widgets.VBox([self.temperature, self.top_p, self.top_k])
        reasoning = widgets.VBox([widgets.HBox([self.thinking, self.thinking_budget]), self.effort,
                                  _labelled("stop sequences", self.stop_sequences)])
        tools = widgets.VBox([self.tools, self.schema])
        routing = widgets.VBox([_labelled("provider order", self.provider_order),
                                _labelled("fallback models", self.fallback_models)])
        sections = widgets.Accordion(children=[sampling, reasoning, tools, routing],
                                     titles=("Sampling", "Thinking, effort, stops", "Tools and output schema",
                                             "OpenRouter routing"))
        return widgets.VBox([top, self.system, sections])


def _labelled(text: str, control: widgets.Widget) -> widgets.Widget:
    return widgets.HBox([widgets.Label(text, layout=widgets.Layout(width="110px")), control])
