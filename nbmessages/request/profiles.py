"""Backends: where requests go, how they authenticate, and which fields each accepts."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..types import MessageCreateParams, RequestValidationError
from ..types.plugins import plugin_notes
from ..types.rules import (
    ANTHROPIC_ONLY_FIELDS,
    ANTHROPIC_SERVICE_TIERS,
    OPENROUTER_ONLY_FIELDS,
    OPENROUTER_SERVICE_TIERS,
    REMOVED_FIELDS,
    RESTRICTED_VERSIONS,
    version_problems,
)
from .batches import AnthropicBatches, OpenRouterBatches


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
    applies_version_rules: bool = True  # False: the backend ignores anthropic-version and what it removes
    hosts: tuple[str, ...] = ()  # host names (and their subdomains) that are this backend
    base_path: str | None = None  # a base URL path that means this backend wherever it is hosted
    key_prefix: str | None = None  # the prefix that marks this backend's keys
    price_provider: str | None = None  # genai-prices provider id of its bills; None: guess from the model
    provider_label: str | None = None  # who answers, when the response does not say (a single-vendor API)
    simulated: bool = False  # the offline model answers: calls cost nothing real
    # OpenRouter's extensions, one capability each (sent only where True; see client/openrouter.py)
    app_attribution: bool = False  # HTTP-Referer, X-OpenRouter-Title, X-OpenRouter-Categories
    response_caching: bool = False  # X-OpenRouter-Cache, -TTL, -Clear; HITs are free
    router_metadata: bool = False  # X-OpenRouter-Metadata: enabled → openrouter_metadata
    account_api: bool = False  # GET /v1/key and /v1/generation under the base URL
    batches: AnthropicBatches | OpenRouterBatches | None = AnthropicBatches()  # its Message Batches API, if any

    def serves(self, base_url: str) -> bool:
        """Whether ``base_url`` is this backend, by its host or its base path."""
        parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
        host = (parts.hostname or "").lower()
        if any(host == h or host.endswith("." + h) for h in self.hosts):
            return True
        return self.base_path is not None and parts.path.rstrip("/").endswith(self.base_path)

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
        if self.applies_version_rules and version in RESTRICTED_VERSIONS:
            problems += version_problems(version, _version_relevant(params))
        if params.plugins and "plugins" not in self.fields_dropped:
            has_schema = params.output_config is not None and params.output_config.format is not None
            for key, note in plugin_notes(params.plugins, bool(params.stream), has_schema):
                _note_once(self.name, key, note)
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


def _note_once(profile: str, key: str, note: str) -> None:
    if (profile, key) not in _warned:
        _warned.add((profile, key))
        warnings.warn(f"{note} (warned once)", UserWarning, stacklevel=5)


def _version_relevant(params: MessageCreateParams) -> dict[str, Any]:
    """The parts of a request that API versions have rules about, as JSON-like data."""
    fields = {"messages", *(name for names in REMOVED_FIELDS.values() for name in names)}
    return params.model_dump(include=fields, exclude_none=True, by_alias=True)


ANTHROPIC = Profile(
    "anthropic",
    base_url="https://api.anthropic.com",
    key_env=("ANTHROPIC_API_KEY",),
    base_url_env=("ANTHROPIC_BASE_URL",),
    auth="x-api-key",
    fields_dropped=OPENROUTER_ONLY_FIELDS,
    service_tiers=ANTHROPIC_SERVICE_TIERS,
    hosts=("anthropic.com",),
    price_provider="anthropic",
    provider_label="Anthropic",
)
OPENROUTER = Profile(
    "openrouter",
    base_url="https://openrouter.ai/api",
    key_env=("OPENROUTER_API_KEY",),
    base_url_env=("OPENROUTER_BASE_URL",),
    auth="bearer",
    fields_dropped=ANTHROPIC_ONLY_FIELDS,
    service_tiers=OPENROUTER_SERVICE_TIERS,
    batches=OpenRouterBatches(),
    applies_version_rules=False,
    hosts=("openrouter.ai",),
    base_path="/api",
    key_prefix="sk-or-",
    price_provider="openrouter",
    app_attribution=True,
    response_caching=True,
    router_metadata=True,
    account_api=True,
)
# the embedded server's /v1 answers like Anthropic's API, so it gets Anthropic's field rules
LOCAL = Profile(
    "local",
    key_env=("NBMESSAGES_API_KEY",),
    auth="both",
    fields_dropped=OPENROUTER_ONLY_FIELDS,
    service_tiers=ANTHROPIC_SERVICE_TIERS,
    simulated=True,
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
    """The profile a base URL implies: the first named backend that serves it, else compatible."""
    return next((p for p in (OPENROUTER, ANTHROPIC) if p.serves(base_url)), COMPATIBLE)


def profile_for_key(key: str) -> Profile:
    """The backend a key belongs to, from its prefix (Anthropic's when no prefix says otherwise)."""
    return next((p for p in PROFILES.values() if p.key_prefix and key.startswith(p.key_prefix)), ANTHROPIC)


@functools.lru_cache(maxsize=256)  # asked for every recorded call; the profiles are fixed at import
def profile_of(name: str | None, base_host: str | None = None) -> Profile | None:
    """The known profile a recorded call stands for: by its profile name, else by the host it went to."""
    known = PROFILES.get(name or "")
    if known is not None and known.hosts:  # a backend with a home of its own: the name says it all
        return known
    return next((p for p in PROFILES.values() if base_host and p.hosts and p.serves(base_host)), known)
