"""Where a client's settings come from: arguments first, then the environment, else the local server."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from ..request.profiles import LOCAL, OPENROUTER, PROFILES, Profile, get_profile, guess_profile
from .notices import info

_announced = False


@dataclass(frozen=True)
class Settings:
    """A resolved configuration; the key is a SecretStr, so it never shows in a repr."""

    profile: Profile
    base_url: str
    api_key: SecretStr | None
    embedded: bool = False

    @property
    def base_host(self) -> str:
        """The host (and port) requests go to."""
        return urlsplit(self.base_url).netloc


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def resolve(
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    profile: str | Profile | None = None,
) -> Settings:
    """Resolve key, base URL and profile from arguments, then the environment, else the embedded server."""
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    chosen = get_profile(profile) if profile is not None else None
    if chosen is None and _env("NBMESSAGES_PROFILE"):
        chosen = get_profile(_env("NBMESSAGES_PROFILE") or "")
    if chosen is LOCAL and not base_url:
        return _embedded(key)
    url = base_url or (_env(*chosen.base_url_env) if chosen else None) or _env("NBMESSAGES_BASE_URL")
    if chosen is None and url is None:
        chosen = _profile_from_keys(key)
        if chosen is None:
            return _embedded(key)
    if chosen is None:
        url = url or _env("ANTHROPIC_BASE_URL")
        chosen = guess_profile(url or "")
    url = url or chosen.base_url
    if not url:
        raise ValueError(f"base_url: the {chosen.name!r} profile needs a base URL (argument or NBMESSAGES_BASE_URL)")
    key = key or _env(*chosen.key_env)
    return Settings(chosen, url.rstrip("/"), SecretStr(key) if key else None)


def _profile_from_keys(key: str | None) -> Profile | None:
    if key:
        return OPENROUTER if key.startswith("sk-or-") else PROFILES["anthropic"]
    if _env("ANTHROPIC_API_KEY"):
        return PROFILES["anthropic"]
    if _env("OPENROUTER_API_KEY"):
        return OPENROUTER
    return None


def _embedded(key: str | None) -> Settings:
    from ..local import shared

    server = shared()
    _announce()
    return Settings(LOCAL, server.base_url, SecretStr(key) if key else None, embedded=True)


def _announce() -> None:
    global _announced
    if not _announced:
        _announced = True
        info(  # two short lines: a notebook wraps a long text line mid-word
            "nbmessages: no API key or base URL configured; using the embedded offline server.\n"
            "  Set ANTHROPIC_API_KEY or OPENROUTER_API_KEY to use a real model."
        )


def configured_keys() -> dict[str, bool]:
    """Which key variables are set (never their values)."""
    names = sorted({n for p in PROFILES.values() for n in p.key_env})
    return {name: bool(os.environ.get(name)) for name in names}
