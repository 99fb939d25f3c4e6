"""nbmessages: the Messages API (Anthropic, OpenRouter, or the embedded offline server) in Jupyter."""

from __future__ import annotations

from typing import Any

from .client import observers as records
from .client.asynchronous import AsyncClient
from .client.errors import *  # noqa: F403
from .client.errors import __all__ as _errors
from .client.sync import Client
from .request.builder import Request
from .request.content import attachment, document, image, output_format, tool_from_function
from .request.profiles import Profile
from .types import Message, RequestValidationError, Usage

__version__ = "0.1.0"


def _ledger_observers(options: dict[str, Any]) -> list[Any]:
    if options.get("ledger") is False and options.get("budget") is None:
        return []
    from .ledger.store import observers

    return observers(options)


records.register_observer_factory(_ledger_observers)

_LAZY = {
    "usage": ("nbmessages.usage", None),
    "Ledger": ("nbmessages.ledger.store", "Ledger"),
    "playground": ("nbmessages.notebook.playground", None),
    "Chat": ("nbmessages.notebook.chat", "Chat"),
    "local": ("nbmessages.local", None),
    "map": ("nbmessages.notebook.map", "map"),  # also registers the df.messages accessor
    "batches": ("nbmessages.batches", None),
}


def __getattr__(name: str) -> Any:
    # pandas, ipywidgets and the server load only when first used, so `import nbmessages` stays light
    if name not in _LAZY:
        raise AttributeError(f"module 'nbmessages' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attr is None else getattr(module, attr)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbmessages``: register the %%message, %message and %nbmessages magics."""
    from .notebook.magic.magics import load_ipython_extension as load

    load(ipython)


__all__ = [
    "AsyncClient", "Client", "Message", "Profile", "Request", "RequestValidationError", "Usage", "attachment",
    "document", "image", "output_format", "tool_from_function", *_errors, *_LAZY,
]

from .notebook.formatters import register_if_running  # noqa: E402 - rich display when imported inside a running IPython

register_if_running()
