"""The playground's settings (plain values, no widgets) and the request parameters they stand for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

DEFAULT_MODEL = "claude-sonnet-4-5"
DEFAULT_MAX_TOKENS = 1024
DEFAULT_THINKING_BUDGET = 2048
THINKING_DISPLAY_FIXED = ("claude-3",)  # models that show full thinking and take no `display` choice

# setting name -> what a caller may pass for it (the names of playground(**defaults))
SETTING_NAMES = (
    "model", "system", "max_tokens", "temperature", "top_p", "top_k", "thinking", "effort", "stop_sequences",
    "tools", "output_format", "provider_order", "fallback_models",
)
ALIASES = {"schema": "output_format", "stop": "stop_sequences", "models": "fallback_models", "provider": "provider_order"}


def normalise(overrides: dict[str, Any]) -> dict[str, Any]:
    """Settings with aliases resolved (``schema`` → ``output_format``…); unknown names are refused."""
    out = {}
    for name, value in overrides.items():
        key = ALIASES.get(name, name)
        if key not in SETTING_NAMES:
            known = ", ".join(SETTING_NAMES)
            raise TypeError(f"playground: unknown setting {name!r}; settings are {known}")
        out[key] = value
    return out


def thinking_config(value: Any, model: str) -> dict[str, Any] | None:
    """A ``thinking`` field from a setting: False/None (off), True (default budget), a budget, or a dict."""
    if value is None or value is False or value == 0:
        return None
    if isinstance(value, dict):
        return value
    if value == "adaptive":
        config: dict[str, Any] = {"type": "adaptive"}
    else:
        budget = DEFAULT_THINKING_BUDGET if value is True else int(value)
        config = {"type": "enabled", "budget_tokens": budget}
    if not model.startswith(THINKING_DISPLAY_FIXED):
        config["display"] = "summarized"
    return config


def request_params(settings: dict[str, Any]) -> dict[str, Any]:
    """The Request keywords (all but ``messages``) for a set of settings, as the %%message magic builds them."""
    model = settings.get("model") or DEFAULT_MODEL
    max_tokens = int(settings.get("max_tokens") or DEFAULT_MAX_TOKENS)
    thinking = thinking_config(settings.get("thinking"), model)
    budget = (thinking or {}).get("budget_tokens", 0)
    if budget >= max_tokens:
        max_tokens += budget  # thinking counts toward max_tokens: keep room for the answer
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "system": settings.get("system") or None,
        "temperature": settings.get("temperature"),
        "top_p": settings.get("top_p"),
        "top_k": settings.get("top_k"),
        "stop_sequences": list(settings.get("stop_sequences") or ()) or None,
        "thinking": thinking,
        "tools": list(settings.get("tools") or ()) or None,
        "output_config": {"effort": settings["effort"]} if settings.get("effort") else None,
        "output_format": settings.get("output_format"),
        "provider": {"order": list(settings["provider_order"])} if settings.get("provider_order") else None,
        "models": list(settings.get("fallback_models") or ()) or None,
    }
    return {k: v for k, v in params.items() if v is not None}


def label(overrides: dict[str, Any]) -> str:
    """A short column title for a compare column: its model, then any other overridden setting."""
    parts = [str(overrides.get("model", ""))] if overrides.get("model") else []
    for name, value in overrides.items():
        if name != "model":
            parts.append(f"{name}={_short(value)}")
    return " · ".join(parts) or "current settings"


def _short(value: Any) -> str:
    if isinstance(value, type) or callable(value):
        return getattr(value, "__name__", repr(value))
    if isinstance(value, (list, tuple)):
        return ",".join(_short(v) for v in value)
    return str(value)


def namespace_functions(ns: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """The user's functions in a namespace (candidates for tools), by name."""
    import inspect

    return {
        name: value for name, value in ns.items()
        if not name.startswith("_") and inspect.isfunction(value) and defined_in(ns, value)
    }


def defined_in(ns: dict[str, Any], function: Callable[..., Any]) -> bool:
    """Whether a function was defined in the namespace's own module (a notebook's cells: ``__main__``).

    IPython puts functions of its own in a notebook's namespace (``open``), and imports bring others'.
    A namespace without a module name (a plain dict) keeps every function but IPython's.
    """
    home = ns.get("__name__")
    module = getattr(function, "__module__", None) or ""
    return module == home if home is not None else not module.startswith(("IPython.", "ipykernel."))


def namespace_models(ns: dict[str, Any]) -> dict[str, type[BaseModel]]:
    """The pydantic model classes in a namespace (candidates for a structured-output schema), by name."""
    return {
        name: value for name, value in ns.items()
        if not name.startswith("_") and isinstance(value, type) and issubclass(value, BaseModel)
        and not value.__module__.startswith(("pydantic", "nbmessages"))
    }
