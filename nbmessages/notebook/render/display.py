"""``LiveDisplay``: a rendering that changes while a stream runs, through one IPython display handle.

Updates are coalesced to at most ``1 / interval`` a second (VS Code freezes on frequent output updates), and
the bundle is only rendered when an update is due, so a stream of N deltas costs O(N) time plus a bounded
number of renders. Under a kernel the live area is first displayed empty and emptied again at the end, and
the final rendering is displayed as a new output: tools that only see the first ``display_data`` of an
output (nbval ignores ``update_display_data``) then see exactly what a saved notebook holds.

The empty live area is plain text, never Markdown: JupyterLab and Notebook 7 render Markdown asynchronously
(the first time in a page, after loading the parser) but empty Markdown at once, so an empty Markdown update
could land before the "waiting" or streaming render it replaces, which then stayed on screen above the answer.
A change of MIME type makes them drop the Markdown renderer instead, late renders and all.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

Bundle = dict[str, str]
EMPTY: Bundle = {"text/plain": ""}
WAITING: Bundle = {"text/markdown": "*⏳ waiting for the model…*", "text/plain": "⏳ waiting for the model…"}
DEFAULT_INTERVAL = 0.1  # 10 updates a second at most


class Publisher(Protocol):
    """Where bundles go: a new output, or an update of an existing one."""

    def show(self, bundle: Bundle, display_id: str | None = None) -> None: ...

    def update(self, bundle: Bundle, display_id: str) -> None: ...


class IPythonPublisher:
    """Publishes through IPython's display machinery (kernel, nbconvert, nbval, VS Code)."""

    def show(self, bundle: Bundle, display_id: str | None = None) -> None:
        """Display a bundle as a new output (with a display id when it will be updated)."""
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.display import display

        if not InteractiveShell.initialized():  # plain Python: display() would print the dict itself
            print(bundle.get("text/plain", ""))
            return
        kwargs: dict[str, Any] = {"display_id": display_id} if display_id else {}
        display(bundle, raw=True, **kwargs)

    def update(self, bundle: Bundle, display_id: str) -> None:
        """Replace the output with this display id."""
        from IPython.display import update_display

        update_display(bundle, raw=True, display_id=display_id)


def display_mode() -> str:
    """``live`` under a kernel or any shell whose displays render, ``text`` in a terminal or plain Python.

    ``NBMESSAGES_DISPLAY=live|text`` overrides the guess.
    """
    forced = os.environ.get("NBMESSAGES_DISPLAY")
    if forced in ("live", "text"):
        return forced
    try:
        from IPython import get_ipython
        from IPython.core.displaypub import DisplayPublisher
    except ImportError:
        return "text"
    publisher = getattr(get_ipython(), "display_pub", None)
    # IPython's own publisher only prints text to stdout (the terminal): a shell that renders displays
    # (a kernel, a capture) brings a publisher of its own
    if publisher is None or type(publisher).publish is DisplayPublisher.publish:
        return "text"
    return "live"


class LiveDisplay:
    """One live output: ``start()``, ``update(make_bundle)`` as often as you like, ``finish(bundle)``."""

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        *,
        publisher: Publisher | None = None,
        mode: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.publisher = publisher or IPythonPublisher()
        self.mode = mode or display_mode()
        self.clock = clock
        self.display_id = uuid.uuid4().hex
        self.updates = 0  # renders sent as updates (not counting start and finish)
        self._last = float("-inf")
        self._printed = ""  # text mode: the part of the plain body already written
        self.started = False

    def start(self) -> None:
        """Create the live area."""
        self.started = True
        if self.mode == "live":
            self.publisher.show(EMPTY, self.display_id)
            self.publisher.update(WAITING, self.display_id)

    def due(self) -> bool:
        """Whether an update may be sent now."""
        return self.clock() - self._last >= self.interval

    def update(self, make: Callable[[], Bundle], force: bool = False) -> bool:
        """Render and show ``make()`` if an update is due (or forced); return whether it was shown."""
        if not self.started:
            self.start()
        if not force and not self.due():
            return False
        self._last = self.clock()
        bundle = make()
        self.updates += 1
        if self.mode == "live":
            self.publisher.update(bundle, self.display_id)
        elif self.mode == "text":
            self._write(_body(bundle.get("text/plain", "")))
        return True

    def finish(self, bundle: Bundle) -> None:
        """Show the final rendering (and empty the live area)."""
        if self.mode == "live" and self.started:
            self.publisher.update(EMPTY, self.display_id)
        if self.mode == "text":  # a terminal: everything goes to stdout, appended
            self._finish_text(bundle.get("text/plain", ""))
            return
        self.publisher.show(bundle)

    def _write(self, body: str) -> None:
        # a terminal can only append: write what grew, but hold back the last line, which may still change
        # (an open tool call's input is filled in when its block stops); a rewritten prefix waits for finish()
        body = body.rstrip()
        stable = body[: body.rfind("\n") + 1]
        if stable.startswith(self._printed) and len(stable) > len(self._printed):
            sys.stdout.write(stable[len(self._printed):])
            sys.stdout.flush()
            self._printed = stable

    def _finish_text(self, plain: str) -> None:
        body = _body(plain)
        if body.startswith(self._printed):
            sys.stdout.write(plain[len(self._printed):] + "\n")
        else:
            sys.stdout.write("\n\n" + plain + "\n")
        sys.stdout.flush()


def _body(plain: str) -> str:
    """The plain rendering without its footer and notes (those change at the end)."""
    if plain.startswith("── "):
        return ""
    cut = plain.find("\n\n── ")
    return plain if cut < 0 else plain[:cut]
