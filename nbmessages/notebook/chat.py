"""``Chat``: a named conversation across cells; it displays its history and turns back into a Request."""

from __future__ import annotations

from typing import Any

from ..request.builder import Request
from ..types import Message
from .render import Status, render_bundle
from .render.view import content_of

Turn = dict[str, Any] | Message  # a user turn (wire dict) or an assistant Message


def _is_prompt(turn: Turn) -> bool:
    """A user turn that the person wrote (not one carrying only tool results)."""
    if isinstance(turn, Message) or turn.get("role") != "user":
        return False
    content = turn.get("content")
    if isinstance(content, str):
        return True
    return not all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content or ())


class Chat:
    """A conversation: user turns and the assistant's Messages, in order."""

    def __init__(self, name: str = "default", turns: list[Turn] | None = None) -> None:
        self.name = name
        self.turns: list[Turn] = list(turns or [])

    def __len__(self) -> int:
        return len(self.turns)

    def __repr__(self) -> str:
        return f"Chat({self.name!r}, {len(self.turns)} turns)"

    @property
    def messages(self) -> list[Any]:
        """The turns as request messages (assistant Messages are replayed unchanged)."""
        return [t.to_param() if isinstance(t, Message) else t for t in self.turns]

    @property
    def last_answer(self) -> Message | None:
        """The last assistant Message, if any."""
        return next((t for t in reversed(self.turns) if isinstance(t, Message)), None)

    def add_user(self, content: Any) -> Chat:
        """Append a user turn (text, or a list of content blocks)."""
        self.turns.append({"role": "user", "content": content})
        return self

    def add(self, turn: Turn) -> Chat:
        """Append a turn as it is (an assistant Message or a user dict)."""
        self.turns.append(turn)
        return self

    def extend(self, turns: list[Turn]) -> Chat:
        """Append several turns (a tool loop's exchange)."""
        self.turns.extend(turns)
        return self

    def reset(self) -> Chat:
        """Forget every turn."""
        self.turns.clear()
        return self

    def retry(self) -> dict[str, Any]:
        """Drop the last exchange (the last prompt and every turn after it) and return that prompt turn."""
        for i in range(len(self.turns) - 1, -1, -1):
            if _is_prompt(self.turns[i]):
                prompt = self.turns[i]
                del self.turns[i:]
                return prompt  # type: ignore[return-value]
        raise ValueError(f"chat {self.name!r} has no prompt to retry")

    def to_request(self, prompt: Any = None, **params: Any) -> Request:
        """A Request of the whole conversation (plus ``prompt`` as a new user turn, when given)."""
        messages = self.messages + ([{"role": "user", "content": prompt}] if prompt is not None else [])
        return Request(messages=messages, **params)

    # -- display

    def _sections(self) -> list[tuple[str, dict[str, str]]]:
        out = []
        for turn in self.turns:
            who = "assistant" if isinstance(turn, Message) else turn.get("role", "user")
            status = Status() if isinstance(turn, Message) else None
            out.append((who, render_bundle(turn, status)))
        return out

    def _repr_markdown_(self) -> str:
        sections = [f"### 💬 chat `{self.name}` ({len(self.turns)} turns)"]
        for who, bundle in self._sections():
            sections.append(f"**{'🧑 you' if who == 'user' else '🤖 ' + who}**\n\n{bundle['text/markdown']}")
        if not self.turns:
            sections.append("*(empty)*")
        return "\n\n".join(sections)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.to_text())

    def to_text(self) -> str:
        """The history as plain text."""
        lines = [f"chat {self.name!r} ({len(self.turns)} turns)"]
        for who, bundle in self._sections():
            lines.append(f"[{who}]\n{bundle['text/plain']}")
        return "\n\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/markdown": self._repr_markdown_(), "text/plain": self.to_text()}

    def blocks(self) -> list[dict[str, Any]]:
        """Every block of the conversation, in order (for renderers that show a whole chat at once)."""
        return [b for t in self.turns for b in content_of(t)[0]]
