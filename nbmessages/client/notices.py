"""One-time notices to the user: a quiet info line in a notebook, a line on stderr elsewhere."""

from __future__ import annotations

import sys


def info(text: str) -> None:
    """Tell the user something that is not an error.

    Under a Jupyter kernel stderr is drawn as a red box, like an error, so the line is displayed as plain text
    output instead; a terminal or a script gets it on stderr, out of the program's own output.
    """
    if _in_kernel():
        from IPython.display import display

        display({"text/plain": f"ℹ {text}"}, raw=True)  # type: ignore[no-untyped-call]
    else:
        print(text, file=sys.stderr)


def _in_kernel() -> bool:
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return False  # IPython not even imported: plain Python
    shell = shell_module.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
