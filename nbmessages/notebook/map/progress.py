"""The map's live line: done / failed / cached / remaining, tokens, cost so far, rows per second and ETA.

It is drawn through the shared renderer's ``LiveDisplay`` (one display handle, at most 10 updates a
second; text in a terminal), and the final line is shown as a new output so a saved notebook keeps it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..render.display import Bundle, LiveDisplay
from ..render.status import money


@dataclass
class Tally:
    """Counts the engine updates as rows finish (read by the progress line from another thread)."""

    total: int = 0  # rows
    cached: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    limiter: Any = None

    def add_usage(self, usage: Any) -> None:
        """Count one answer's tokens."""
        if usage is not None:
            self.input_tokens += (usage.input_tokens or 0) + (usage.cache_creation_input_tokens or 0) + (
                usage.cache_read_input_tokens or 0)
            self.output_tokens += usage.output_tokens or 0

    @property
    def finished(self) -> int:
        """Rows with an outcome (skipped ones excluded)."""
        return self.cached + self.done + self.failed

    @property
    def remaining(self) -> int:
        """Rows still to come."""
        return max(0, self.total - self.finished - self.skipped)

    def rate(self) -> float | None:
        """Rows answered per second so far (cached rows excluded)."""
        elapsed = (self.ended or time.monotonic()) - self.started
        sent = self.done + self.failed
        return sent / elapsed if elapsed > 0 and sent else None

    def line(self, final: bool = False) -> str:
        """The progress line."""
        parts = [f"{self.done} done", f"{self.failed} failed", f"{self.cached} cached"]
        parts.append(f"{self.skipped} not sent" if final else f"{self.remaining} remaining")
        parts.append(f"{self.input_tokens:,} in / {self.output_tokens:,} out tokens")
        parts.append(money(self.cost))
        rate = self.rate()
        elapsed = (self.ended or time.monotonic()) - self.started
        if rate is not None:
            parts.append(f"{rate:.1f} rows/s")
        if final:
            parts.append(f"{elapsed:.1f} s")
        elif rate:
            parts.append(f"ETA {self.remaining / rate:.0f} s")
        if not final and self.limiter is not None:
            parts.append(self.limiter.state())
        return " · ".join(parts)


class ProgressLine:
    """The live line of one map run."""

    def __init__(self, tally: Tally, title: str, enabled: bool = True) -> None:
        self.tally = tally
        self.title = title
        self.enabled = enabled
        self.display = LiveDisplay() if enabled else None

    def _bundle(self, final: bool = False, note: str = "") -> Bundle:
        t = self.tally
        bar = _bar(t.finished + (t.skipped if final else 0), t.total)
        line = t.line(final)
        tail = f"\n\n{note}" if note else ""
        return {"text/markdown": f"**{self.title}** `{bar}` {t.finished}/{t.total}  \n{line}{tail}",
                "text/plain": f"{self.title} {bar} {t.finished}/{t.total} · {line}{tail}"}

    def update(self) -> None:
        """Redraw if due (at most 10 a second)."""
        if self.display is not None:
            self.display.update(self._bundle)

    def finish(self, note: str = "") -> None:
        """Show the final line (a new output, kept when the notebook is saved)."""
        if self.display is not None:
            self.display.finish(self._bundle(final=True, note=note))


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else width
    return "█" * filled + "░" * (width - filled)
