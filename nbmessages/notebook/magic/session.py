"""The magic's session: default model, profile, max tokens, budget, headers, clients, chats and last plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...client.config import environment_fingerprint
from ...client.sync import Client
from ...ledger.budget import Budget
from ...ledger.money import usd
from .. import settings
from ..chat import Chat

DEFAULT_MODEL: str = settings.default("model")
DEFAULT_MAX_TOKENS: int = settings.default("max_tokens")
DEFAULT_CHAT = "default"


@dataclass
class Session:
    """Settings that hold across cells (``%nbmessages``), the clients they make, and the named chats."""

    model: str = DEFAULT_MODEL
    max_tokens: int = DEFAULT_MAX_TOKENS
    profile: str | None = None
    base_url: str | None = None
    budget: float | None = None
    max_retries: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    openrouter: dict[str, Any] = field(default_factory=dict)  # OpenRouter client options (cache, metadata)
    chats: dict[str, Chat] = field(default_factory=dict)
    current_chat: str = DEFAULT_CHAT
    plans: dict[str, Any] = field(default_factory=dict)  # the last call plan of each chat, for --retry
    last_message: Any = None
    _clients: dict[str | None, Client] = field(default_factory=dict)
    _pinned: Client | None = None
    _budget: Budget | None = None  # shared by the session's clients
    _environment: str = ""  # the configuration variables the clients were made under (a digest)

    def client(self, profile: str | None = None) -> Client:
        """The client for a profile (the session's by default), made on first use with the session's settings."""
        if self._pinned is not None and profile is None:
            return self._pinned
        key = profile or self.profile
        if self._environment != environment_fingerprint():  # a key or URL set since: new clients
            self.changed()
            self._environment = environment_fingerprint()
        if key not in self._clients:
            base_url = self.base_url if key == self.profile else None
            first = next(iter(self._clients.values()), None)
            if first is None:
                self._clients[key] = Client(base_url=base_url, profile=key, **self._client_options())
            else:  # another backend: the same budget, ledger, headers and tags as the session's other clients
                self._clients[key] = first.copy(profile=key, base_url=base_url, api_key=None)
        return self._clients[key]

    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"tags": {"source": "magic"}, "default_headers": dict(self.headers)}
        if self.budget is not None:  # one guard for every client: remade clients keep what was spent
            options["budget"] = self._guard()
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        options.update(self.openrouter)  # %nbmessages openrouter_cache / router_metadata
        return options

    def use_client(self, client: Client | None) -> None:
        """Pin a ready-made client (tests, custom transports); None unpins it."""
        self._pinned = client

    def changed(self) -> None:
        """Settings that shape clients changed: make new ones on next use."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _guard(self) -> Budget:
        """The session's one budget guard (made on first use)."""
        if self._budget is None:
            self._budget = Budget(self.budget if self.budget is not None else 0.0)
        return self._budget

    def set_budget(self, limit: float | None) -> None:
        """Set (or with None drop) the spending limit, keeping what the clients already counted."""
        self.budget = limit
        if limit is None:
            self._budget = None
            self.changed()
            return
        if self._budget is None:
            self.changed()  # the clients made so far have no guard
        self._guard().limit = limit

    def budget_status(self) -> str:
        """The budget as text: limit and spent, or 'none'."""
        if self.budget is None:
            return "none"
        spent = self._budget.spent if self._budget is not None else 0.0
        return f"{usd(self.budget)} (spent {usd(spent, 4)})"

    def chat(self, name: str | None = None) -> Chat:
        """A chat by name (made when new); None means the current one."""
        name = name or self.current_chat
        if name not in self.chats:
            self.chats[name] = Chat(name)
        return self.chats[name]
