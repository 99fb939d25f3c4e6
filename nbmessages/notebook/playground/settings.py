"""The playground's settings as plain values: the names it takes, column titles, and the namespace's candidates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from .. import settings as table


def normalise(overrides: dict[str, Any]) -> dict[str, Any]:
    """Settings with aliases resolved (``schema`` → ``output_format``…); only settings with a control are taken."""
    return table.normalise(overrides, table.rows(widget=True))


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
