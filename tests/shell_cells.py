"""Helpers for tests in a real IPython shell: run a cell and keep what it showed (the `ip` fixture is in conftest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output


@dataclass
class Cell:
    """What a cell did: its result, printed text, every display output and update."""

    result: Any
    error: BaseException | None
    stdout: str
    stderr: str
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shown(self) -> list[dict[str, str]]:
        """The outputs as a saved notebook keeps them (new displays; updates excluded)."""
        return [o["data"] for o in self.outputs if not o["update"]]

    @property
    def updates(self) -> list[dict[str, str]]:
        return [o["data"] for o in self.outputs if o["update"]]

    @property
    def markdown(self) -> str:
        """All Markdown shown, joined."""
        return "\n".join(d.get("text/markdown", "") for d in self.shown)

    @property
    def plain(self) -> str:
        return "\n".join(d.get("text/plain", "") for d in self.shown)


def run(shell: InteractiveShell, code: str) -> Cell:
    with capture_output() as cap:
        result = shell.run_cell(code, store_history=True)
    return Cell(result.result, result.error_in_exec, cap.stdout, cap.stderr, list(cap._outputs))  # noqa: SLF001 - IPython's public outputs drop the update flag
