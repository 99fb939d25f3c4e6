"""What each model accepts, in one table: the model-dependent request rules (spec §6 rules 5 and 10).

To follow a new model, add or change a row of ``RULES``; nothing else keys on model names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache


@dataclass(frozen=True)
class ModelCapabilities:
    """What a model accepts; a model nbmessages cannot name is given the benefit of the doubt."""

    system_messages: bool = True  # role "system" turns inside messages (else only the top-level system)
    temperature_with_top_p: bool = True  # temperature and top_p in one request


CLAUDE = ModelCapabilities(system_messages=False)  # Claude before the rows below
# (family or "*", first version it applies to, the capabilities that change from then on)
RULES: tuple[tuple[str, tuple[int, int], dict[str, bool]], ...] = (
    ("*", (4, 5), {"temperature_with_top_p": False}),  # "temperature and top_p cannot both be specified"
    ("opus", (4, 8), {"system_messages": True}),  # mid-conversation system turns
)
_NEW_NAME = re.compile(r"claude-(opus|sonnet|haiku)-(\d+)(?:[.-](\d{1,2}))?(?!\d)")  # claude-sonnet-4-5, -4.5
_OLD_NAME = re.compile(r"claude-(\d+)(?:[.-](\d{1,2}))?-(opus|sonnet|haiku)")  # claude-3-5-sonnet-20241022


@lru_cache(maxsize=512)  # every request asks, of a handful of models
def capabilities(model: str) -> ModelCapabilities:
    """The capabilities of a model id (``claude-opus-4-8``, ``anthropic/claude-sonnet-4.5``, …)."""
    name = model.lower()
    found = _NEW_NAME.search(name)
    if found:
        family, version = found[1], (int(found[2]), int(found[3] or 0))
    else:
        old = _OLD_NAME.search(name)
        if old is None:
            return ModelCapabilities()
        family, version = old[3], (int(old[1]), int(old[2] or 0))
    caps = CLAUDE
    for rule_family, since, changes in RULES:
        if rule_family in ("*", family) and version >= since:
            caps = replace(caps, **changes)
    return caps
