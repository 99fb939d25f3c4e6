"""What an error tells the person who meets it: a short title and a hint, shown by every front end's error box."""

from __future__ import annotations

from typing import ClassVar


class Explained:
    """Mixed into an exception class: ``title`` heads the error box, ``hint`` (if any) says what to do.

    Both speak the library's words (``client.budget.limit``, ``api_key=``), never a front end's; a front end
    may add its own hint beside them. A subclass inherits both unless it says better.
    """

    title: ClassVar[str | None] = None  # None: the class name
    hint: ClassVar[str | None] = None
