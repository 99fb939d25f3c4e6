"""``nbmessages.playground(**defaults)``: an ipywidgets playground for the Messages API, tested in a browser.

Modules: ``widget`` (the Playground), ``controls`` and ``fields`` (settings widgets), ``columns`` (answer
columns and compare), ``keys`` (key entry),
``sender`` (one column's send, through the shared turn runner), ``conversation`` (exchanges and history),
``html`` (HTML through the shared renderer), ``code`` (get code), ``settings`` (setting names, column titles,
the namespace's candidates; the options themselves are the table in ``nbmessages.notebook.settings``),
``loop`` (the kernel's event loop, or a private one in a thread).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .widget import Playground

__all__ = ["Playground", "playground"]


def playground(**defaults: Any) -> Playground:
    """A playground widget; ``defaults`` set its controls (``model=``, ``system=``, ``temperature=``, ``tools=``…).

    Also: ``client=`` (a Client or AsyncClient), ``base_url=``, ``api_key=``, ``profile=``, ``namespace=`` (where
    tools and schemas are picked from; the notebook's by default) and ``compare=[...]`` (2 to 4 model names or
    dicts of settings, answered side by side).
    """
    return Playground(**defaults)


class _CallableModule(types.ModuleType):
    """This package, callable as playground(): importing it rebinds ``nbmessages.playground`` to the module."""

    def __call__(self, **defaults: Any) -> Playground:
        return playground(**defaults)


sys.modules[__name__].__class__ = _CallableModule
