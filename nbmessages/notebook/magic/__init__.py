"""The IPython magics: ``%%message`` / ``%message`` and ``%nbmessages``."""

from .magics import load_ipython_extension

__all__ = ["load_ipython_extension"]
