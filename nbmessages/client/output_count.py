"""Output tokens counted by the client while a stream runs: the API reports its count only at the end.

The count is an estimate (a word or a punctuation mark per token, like the offline model's tokenizer); the
server's final usage replaces it, and a stream that ends without one keeps it, marked as counted here.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")


def _wordy(char: str) -> bool:
    return char.isalnum() or char == "_"


class OutputCount:
    """The running output token count of one stream, from the pieces of text, thinking and tool input."""

    __slots__ = ("start", "tokens", "_mid_word")

    def __init__(self, start: int = 0) -> None:
        self.start = start  # what message_start reported (usually 1)
        self.tokens = 0
        self._mid_word = False

    def add(self, piece: str) -> int:
        """Count one delta's piece; returns the output tokens so far."""
        if piece:
            n = len(_TOKEN.findall(piece))
            if self._mid_word and _wordy(piece[0]):
                n -= 1  # a word split across two deltas is one token
            self._mid_word = _wordy(piece[-1])
            self.tokens += n
        return max(self.start, self.tokens)
