"""OpenRouter's extras around a call: attribution, response caching and router-metadata headers; ``/key``, ``/generation``.

Which profile gets them is a capability of the profile (``Profile.app_attribution``, ``response_caching``,
``router_metadata``, ``account_api``); another profile is told once and sent none of them.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

import httpx

from ..request.profiles import Profile
from ..types.openrouter import (
    CACHE_CLEAR_HEADER,
    CACHE_HEADER,
    CACHE_TTL_HEADER,
    MAX_CACHE_TTL,
    METADATA_HEADER,
    MIN_CACHE_TTL,
    Generation,
    KeyInfo,
)

if TYPE_CHECKING:
    from .asynchronous import AsyncClient
    from .sync import Client

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


_warned: set[tuple[str, str]] = set()


def _capable(profile: Profile, capability: str, option: str) -> bool:
    if getattr(profile, capability):
        return True
    if (profile.name, option) not in _warned:
        _warned.add((profile.name, option))
        warnings.warn(f"{option} is OpenRouter-only: not sent to the {profile.name!r} profile (warned once)",
                      UserWarning, stacklevel=5)
    return False


def _check_account_api(profile: Profile, what: str) -> None:
    if not profile.account_api:
        raise ValueError(f"{what} is OpenRouter's; the {profile.name!r} profile has no such endpoint")


def _generation_request(client: Any, generation_id: str) -> httpx.Request:
    if not generation_id:
        raise ValueError("generation(id): give the call's generation id (gen-…, the ledger's generation_id)")
    return httpx.Request("GET", client._url("generation"), params={"id": generation_id},
                         headers=client._headers(False))


class OpenRouterAPI:
    """``client.openrouter``: the key's credits (``key()``) and a generation's record (``generation(id)``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def key(self) -> KeyInfo:
        """``GET /api/v1/key``: limit, usage and ``limit_remaining`` of the key in use (USD)."""
        c = self._client
        _check_account_api(c.profile, "key()")
        response, _ = c._send(httpx.Request("GET", c._url("key"), headers=c._headers(False)))
        return KeyInfo.model_validate(response.json().get("data") or {})

    def generation(self, generation_id: str) -> Generation:
        """``GET /api/v1/generation?id=…``: the record of one call, its ``total_cost`` included."""
        c = self._client
        _check_account_api(c.profile, "generation()")
        response, _ = c._send(_generation_request(c, generation_id))
        return Generation.model_validate(response.json().get("data") or {})


class AsyncOpenRouterAPI:
    """``client.openrouter`` of the async client."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def key(self) -> KeyInfo:
        """``GET /api/v1/key``: limit, usage and ``limit_remaining`` of the key in use (USD)."""
        c = self._client
        _check_account_api(c.profile, "key()")
        response, _ = await c._send(httpx.Request("GET", c._url("key"), headers=c._headers(False)))
        return KeyInfo.model_validate(response.json().get("data") or {})

    async def generation(self, generation_id: str) -> Generation:
        """``GET /api/v1/generation?id=…``: the record of one call, its ``total_cost`` included."""
        c = self._client
        _check_account_api(c.profile, "generation()")
        response, _ = await c._send(_generation_request(c, generation_id))
        return Generation.model_validate(response.json().get("data") or {})
