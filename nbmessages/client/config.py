"""Where a client's settings come from: arguments first, then the environment, else the local server."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import SecretStr

from ..request.profiles import (
    ANTHROPIC,
    LOCAL,
    OPENROUTER,
    PROFILES,
    Profile,
    get_profile,
    guess_profile,
    profile_for_key,
)
from .notices import info

_announced = False


@dataclass(frozen=True)
class Settings:
    """A resolved configuration; the key is a SecretStr, so it never shows in a repr."""

    profile: Profile
    base_url: str
    api_key: SecretStr | None
    embedded: bool = False
    credentials: SecretStr | None = None  # a base URL's ``user:password@``, never shown

    @property
    def base_host(self) -> str:
        """The host (and port) requests go to."""
        return urlsplit(self.base_url).netloc

    def url(self, path: str) -> str:
        """The URL of an API path: ``/v1/<path>`` after the base URL's own path, before its query."""
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/v1/{path}"))


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
    """Resolve key, base URL and profile: arguments, then ``NBMESSAGES_*``, then the profile's own variables
    (the SDKs' ``ANTHROPIC_*`` / ``OPENROUTER_*``), else the embedded server."""
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    named = profile if profile is not None else _env("NBMESSAGES_PROFILE")
    chosen = get_profile(named) if named is not None else None
    if chosen is LOCAL and not base_url:  # the local profile is the embedded server unless given a URL
        return _embedded(key)
    url = base_url or _env("NBMESSAGES_BASE_URL")
    source = chosen  # the profile whose own variables supply what arguments and NBMESSAGES_* left open
    if url is None:
        source = chosen or _profile_from_environment(key)
        if source is None:
            return _embedded(key)
        url = _env(*source.base_url_env) or source.base_url
        if not url:
            raise ValueError(
                f"base_url: the {source.name!r} profile needs a base URL (argument or NBMESSAGES_BASE_URL)"
            )
    chosen = chosen or guess_profile(url)
    key = key or _env(*chosen.key_env) or (_env(*source.key_env) if source else None)
    return _settings(chosen, url, key)


def _settings(profile: Profile, url: str, key: str | None) -> Settings:
    clean, credentials = split_userinfo(url)
    parts = urlsplit(clean)
    clean = urlunsplit(parts._replace(path=parts.path.rstrip("/")))
    return Settings(profile, clean, SecretStr(key) if key else None,
                    credentials=SecretStr(credentials) if credentials else None)


def split_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without ``user:password@``, and those credentials (kept as a secret, sent as Basic auth)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=host)), unquote(userinfo)


def _profile_from_environment(key: str | None) -> Profile | None:
    """The profile a key implies, else the first whose key or base URL variable is set."""
    if key:
        return profile_for_key(key)
    for candidate in (ANTHROPIC, OPENROUTER):
        if _env(*candidate.key_env, *candidate.base_url_env):
            return candidate
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


CONFIG_VARIABLES = (
    "NBMESSAGES_PROFILE", "NBMESSAGES_BASE_URL", "NBMESSAGES_API_KEY", "NBMESSAGES_RECORD", "NBMESSAGES_REPLAY",
    "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL",
)


def environment_fingerprint() -> str:
    """A digest of the configuration variables (values hashed, never kept): cached clients compare it."""
    digest = hashlib.sha256()
    for name in CONFIG_VARIABLES:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return digest.hexdigest()
