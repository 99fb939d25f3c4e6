"""Backends: where requests go, how they authenticate, and which fields each accepts."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..types import (
    ANTHROPIC_ONLY_FIELDS,
    KNOWN_PLUGINS,
    OPENROUTER_ONLY_FIELDS,
    SAMPLING_FIELDS,
    MessageCreateParams,
    RequestValidationError,
)
from .batches import AnthropicBatches, OpenRouterBatches

ANTHROPIC_VERSIONS = ("2023-06-01", "2026-10-21")
DEFAULT_ANTHROPIC_VERSION = "2023-06-01"
MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Profile:
    """A backend: default base URL, key variables, auth style, and field rules."""

    name: str
    base_url: str = ""
    key_env: tuple[str, ...] = ()
    base_url_env: tuple[str, ...] = ()
    auth: str = "x-api-key"  # "x-api-key" | "bearer" | "both"
    fields_dropped: tuple[str, ...] = ()  # sent by other backends only: dropped here with a warning
    service_tiers: tuple[str, ...] | None = None  # None: any value the types accept
    extra_headers: dict[str, str] = field(default_factory=dict)
    batches: AnthropicBatches | OpenRouterBatches | None = AnthropicBatches()  # its Message Batches API, if any

    def auth_headers(self, key: str | None) -> dict[str, str]:
        """The headers that carry the key."""
        if not key:
            return {}
        headers = {}
        if self.auth in ("x-api-key", "both"):
            headers["x-api-key"] = key
        if self.auth in ("bearer", "both"):
            headers["authorization"] = f"Bearer {key}"
        return headers

    def check(self, params: MessageCreateParams, version: str) -> None:
        """Refuse what this backend would answer with a 400, before anything is sent."""
        problems = []
        if self.service_tiers is not None and params.service_tier not in (None, *self.service_tiers):
            allowed = ", ".join(repr(t) for t in self.service_tiers)
            problems.append(
                ("service_tier", f"{params.service_tier!r} is not accepted by {self.name}; allowed: {allowed}")
            )
        if version == "2026-10-21" and self.name != "openrouter":
            problems += _version_2026_problems(params)
        for i, plugin in enumerate(params.plugins or ()):
            if plugin.id not in KNOWN_PLUGINS:
                warnings.warn(f"plugins[{i}].id: {plugin.id!r} is not a plugin nbmessages knows", stacklevel=4)
        if problems:
            raise RequestValidationError(problems)

    def body(self, params: MessageCreateParams, extra: dict[str, Any] | None) -> dict[str, Any]:
        """The JSON body for this backend: fields it refuses are dropped, once with a warning each."""
        data = params.to_dict()
        for name in self.fields_dropped:
            if name in data:
                del data[name]
                _warn_once(self.name, name)
        if extra:
            data.update(extra)
        return data


_warned: set[tuple[str, str]] = set()


def _warn_once(profile: str, name: str) -> None:
    if (profile, name) in _warned:
        return
    _warned.add((profile, name))
    other = "OpenRouter" if name in OPENROUTER_ONLY_FIELDS else "Anthropic"
    warnings.warn(
        f"{name!r} is {other}-only: not sent to the {profile!r} profile (warned once)", UserWarning, stacklevel=5
    )


def _version_2026_problems(params: MessageCreateParams) -> list[tuple[str, str]]:
    problems = [
        (name, "was removed in anthropic-version 2026-10-21; drop it, or choose anthropic_version='2023-06-01'")
        for name in SAMPLING_FIELDS
        if getattr(params, name) is not None
    ]
    for i, message in enumerate(params.messages):
        for j, block in enumerate(message.content if isinstance(message.content, list) else ()):
            if block.type == "document" and message.role == "assistant":
                problems.append(
                    (f"messages[{i}].content[{j}]", "a document block cannot be in an assistant message (2026-10-21)")
                )
            if message.role == "user" and block.type == "text" and getattr(block, "citations", None):
                problems.append(
                    (f"messages[{i}].content[{j}].citations", "citations on user text are refused by 2026-10-21")
                )
    return problems


ANTHROPIC = Profile(
    "anthropic",
    base_url="https://api.anthropic.com",
    key_env=("ANTHROPIC_API_KEY",),
    base_url_env=("ANTHROPIC_BASE_URL",),
    auth="x-api-key",
    fields_dropped=OPENROUTER_ONLY_FIELDS,
    service_tiers=("auto", "standard_only"),
)
OPENROUTER = Profile(
    "openrouter",
    base_url="https://openrouter.ai/api",
    key_env=("OPENROUTER_API_KEY",),
    base_url_env=("OPENROUTER_BASE_URL",),
    auth="bearer",
    fields_dropped=ANTHROPIC_ONLY_FIELDS,
    service_tiers=("flex", "priority", "fast", "default"),
    batches=OpenRouterBatches(),
)
# the embedded server's /v1 answers like Anthropic's API, so it gets Anthropic's field rules
LOCAL = Profile(
    "local",
    key_env=("NBMESSAGES_API_KEY",),
    auth="both",
    fields_dropped=OPENROUTER_ONLY_FIELDS,
    service_tiers=("auto", "standard_only"),
)
# Anthropic-format servers (LiteLLM, vLLM, llama.cpp's): OpenRouter's extras mean nothing there
COMPATIBLE = Profile(
    "compatible",
    key_env=("NBMESSAGES_API_KEY", "ANTHROPIC_API_KEY"),
    auth="both",
    fields_dropped=OPENROUTER_ONLY_FIELDS,
)
PROFILES = {p.name: p for p in (ANTHROPIC, OPENROUTER, LOCAL, COMPATIBLE)}


def get_profile(profile: str | Profile) -> Profile:
    """A profile by name, or the object itself."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        names = ", ".join(repr(n) for n in PROFILES)
        raise ValueError(f"profile: unknown profile {profile!r}; use one of {names} or a Profile object") from None


def guess_profile(base_url: str) -> Profile:
    """The profile a base URL implies: OpenRouter's host or an ``/api`` path, Anthropic's host, else compatible."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host.endswith("openrouter.ai") or parts.path.rstrip("/").endswith("/api"):
        return OPENROUTER
    if host.endswith("anthropic.com"):
        return ANTHROPIC
    return COMPATIBLE
