"""OpenRouter's extras around a call: attribution, response caching and router-metadata headers; reading ``/key``
and ``/generation`` (``client.openrouter``, beside ``client.messages`` in sync.py and asynchronous.py).

Which profile gets them is a capability of the profile (``Profile.app_attribution``, ``response_caching``,
``router_metadata``, ``account_api``); another profile is told once and sent none of them.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import httpx

from ..request.profiles import Profile
from ..types.openrouter import (
    CACHE_CLEAR_HEADER,
    CACHE_HEADER,
    CACHE_TTL_HEADER,
    MAX_CACHE_TTL,
    METADATA_HEADER,
    MIN_CACHE_TTL,
)
from .responses import Model, json_body, malformed, model_from

APP_CATEGORIES = (
    "cli-agent", "ide-extension", "cloud-agent", "programming-app", "native-app-builder", "creative-writing",
    "video-gen", "image-gen", "audio-gen", "writing-assistant", "general-chat", "personal-agent", "legal",
    "roleplay", "game",
)
"""The marketplace categories OpenRouter recognises (``app-attribution.mdx``); others are dropped silently there."""
MAX_CATEGORIES_PER_REQUEST = 2
CALL_OPTIONS = ("openrouter_cache", "openrouter_cache_clear", "openrouter_metadata")
"""Per-call keywords of ``create`` / ``stream`` (headers, never part of the body)."""
_CATEGORY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def cache_ttl(value: bool | int | None, name: str = "openrouter_cache") -> int | bool | None:
    """``True`` (the server's 300 s default), a TTL in seconds (1–86400), or ``False``/``None``; else ValueError."""
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, int) or not MIN_CACHE_TTL <= value <= MAX_CACHE_TTL:
        raise ValueError(
            f"{name}: True, False or a TTL in whole seconds from {MIN_CACHE_TTL} to {MAX_CACHE_TTL} (got {value!r})"
        )
    return value


def categories(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``app_categories`` as a checked list: documented names, at most two per request."""
    if value is None:
        return []
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    if len(names) > MAX_CATEGORIES_PER_REQUEST:
        raise ValueError(f"app_categories: at most {MAX_CATEGORIES_PER_REQUEST} per request (got {len(names)})")
    for name in names:
        if name not in APP_CATEGORIES:
            near = get_close_matches(name, APP_CATEGORIES, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            if not _CATEGORY.match(name) or len(name) > 30:
                hint += "categories are lowercase and hyphen-separated, 30 characters at most; "
            raise ValueError(f"app_categories: {name!r} is not an OpenRouter category; {hint}"
                             f"known: {', '.join(APP_CATEGORIES)}")
    return names


@dataclass(frozen=True)
class Extras:
    """The OpenRouter options of a client or of one call; ``None`` means "not set here"."""

    app_url: str | None = None
    app_title: str | None = None
    app_categories: tuple[str, ...] = ()
    cache: int | bool | None = None
    cache_clear: bool | None = None
    metadata: bool | None = None

    @classmethod
    def of_client(cls, app_url: str | None = None, app_title: str | None = None,
                  app_categories: str | list[str] | None = None, openrouter_cache: bool | int | None = None,
                  openrouter_metadata: bool | None = None) -> Extras:
        """A client's options, checked."""
        if app_url is not None and not re.match(r"^https?://", app_url):
            raise ValueError(f"app_url: the app's URL, starting with http:// or https:// (got {app_url!r})")
        return cls(app_url, app_title, tuple(categories(app_categories)), cache_ttl(openrouter_cache),
                   None, openrouter_metadata)

    @classmethod
    def pop_call(cls, params: dict[str, Any]) -> Extras:
        """A call's options, taken out of its keywords."""
        return cls(cache=cache_ttl(params.pop("openrouter_cache", None)),
                   cache_clear=params.pop("openrouter_cache_clear", None),
                   metadata=params.pop("openrouter_metadata", None))

    def over(self, base: Extras) -> Extras:
        """These options where set, else ``base``'s."""
        if self == NOTHING:  # the options of nearly every call
            return base
        pick = {k: getattr(self, k) if getattr(self, k) not in (None, ()) else getattr(base, k)
                for k in self.__dataclass_fields__}
        return Extras(**pick)

    @property
    def caching(self) -> bool:
        """Whether the response cache is asked for."""
        return self.cache not in (None, False)

    def headers(self, profile: Profile, message_call: bool = True) -> dict[str, str]:
        """The headers these options send to ``profile`` (those it cannot take are dropped, once with a warning).

        Attribution goes on every request; caching and metadata only on a message call (``message_call``).
        """
        out: dict[str, str] = {}
        if self.app_url or self.app_title or self.app_categories:
            if _capable(profile, "app_attribution", "app_url/app_title/app_categories"):
                out.update({k: v for k, v in (("http-referer", self.app_url), ("x-openrouter-title", self.app_title))
                            if v})
                if self.app_categories:
                    out["x-openrouter-categories"] = ",".join(self.app_categories)
        if not message_call:
            return out
        if self.cache is not None and _capable(profile, "response_caching", "openrouter_cache"):
            out[CACHE_HEADER] = "true" if self.caching else "false"
            if not isinstance(self.cache, bool):
                out[CACHE_TTL_HEADER] = str(self.cache)
            if self.caching and self.cache_clear:
                out[CACHE_CLEAR_HEADER] = "true"
        if self.metadata and _capable(profile, "router_metadata", "openrouter_metadata"):
            out[METADATA_HEADER] = "enabled"
        return out


NOTHING = Extras()  # no option set
_warned: set[tuple[str, str]] = set()


def _capable(profile: Profile, capability: str, option: str) -> bool:
    if getattr(profile, capability):
        return True
    if (profile.name, option) not in _warned:
        _warned.add((profile.name, option))
        warnings.warn(f"{option} is OpenRouter-only: not sent to the {profile.name!r} profile (warned once)",
                      UserWarning, stacklevel=5)
    return False


def check_account_api(profile: Profile, what: str) -> None:
    """Refuse ``key()`` / ``generation()`` on a profile without OpenRouter's account endpoints."""
    if not profile.account_api:
        raise ValueError(f"{what} is OpenRouter's; the {profile.name!r} profile has no such endpoint")


def generation_query(generation_id: str) -> dict[str, str]:
    """The query of ``GET /generation`` for one call's id (refused when empty)."""
    if not generation_id:
        raise ValueError("generation(id): give the call's generation id (gen-…, the ledger's generation_id)")
    return {"id": generation_id}


def account_data(response: httpx.Response, model: type[Model]) -> Model:
    """OpenRouter's ``{"data": {...}}`` envelope read into ``model``; anything else is a MalformedResponseError."""
    body = json_body(response, f"{{\"data\": {model.__name__}}}")
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise malformed(response, f"the body has no \"data\" object (a {model.__name__} was expected)")
    return model_from(response, model, data)
