"""``%nbmessages``: the session's settings and status, as small commands."""

from __future__ import annotations

from collections.abc import Callable

from IPython.core.error import UsageError

from ...client.config import configured_keys
from ...client.errors import AuthenticationError
from ...ledger.budget import BudgetExceededError
from ...ledger.money import usd
from ...request.profiles import PROFILES
from ...types.redact import is_secret_header, masked, remember
from .. import settings
from ..render import IPythonPublisher, escape_dollars
from .session import Session

HELP = """%nbmessages                 status: model, profile, max tokens, budget, keys configured, chats
%nbmessages model NAME      the default model
%nbmessages profile NAME    anthropic, openrouter, local, compatible (or 'auto')
%nbmessages max_tokens N    the default max tokens
%nbmessages budget 5.00     a spending limit in USD for this session ('off' to drop it)
%nbmessages base_url URL    where requests go ('off' for the configured default)
%nbmessages header NAME V   an extra HTTP header on every request ('off' to drop it)
%nbmessages retries N       retries on rate limits, overload and server errors
%nbmessages keys            which key variables are set (never their values)
%nbmessages credits         OpenRouter: the key's credit limit, usage and what remains
%nbmessages openrouter_cache on|off|TTL   OpenRouter: response cache for every call (TTL in seconds)
%nbmessages router_metadata on|off        OpenRouter: ask for the router's metadata (shown folded)
%nbmessages models          the models the profile offers
%nbmessages chats           the named conversations
%nbmessages chat NAME       show a conversation (and make it the current one)
%nbmessages reset           forget every conversation"""


USAGE_TITLE = "Wrong use of the magic"


def magic_hint(error: BaseException) -> str | None:
    """The magic's own way out of an error, shown after the error's hint (which speaks the library's words)."""
    if isinstance(error, BudgetExceededError):
        return "In the magic: `%nbmessages budget N` sets a new limit."
    if isinstance(error, AuthenticationError):
        return "`%nbmessages keys` shows which key variables are set (never their values)."
    return None


def show(markdown: str, plain: str) -> None:
    """Display a Markdown text with its plain twin."""
    IPythonPublisher().show({"text/markdown": escape_dollars(markdown), "text/plain": plain})


def _table(rows: list[tuple[str, str]]) -> tuple[str, str]:
    md = "| setting | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
    width = max(len(k) for k, _ in rows)
    return md, "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


class SettingsCommands:
    """Parses and runs one ``%nbmessages`` line against a session."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.commands: dict[str, Callable[[str], None]] = {
            "": self.status, "status": self.status, "help": self.help, "model": self.model,
            "profile": self.profile, "max_tokens": self.max_tokens, "max-tokens": self.max_tokens,
            "budget": self.budget, "base_url": self.base_url, "header": self.header, "retries": self.retries,
            "keys": self.keys, "models": self.models, "credits": self.credits,
            "openrouter_cache": self.openrouter_cache, "router_metadata": self.router_metadata,
            "openrouter_metadata": self.router_metadata, "chats": self.chats, "chat": self.chat, "reset": self.reset,
        }

    def run(self, line: str) -> None:
        """Run one command line."""
        name, _, rest = line.strip().partition(" ")
        if name not in self.commands:
            raise UsageError(f"%nbmessages: unknown command {name!r}; try %nbmessages help")
        self.commands[name](rest.strip())

    def help(self, rest: str) -> None:
        print(HELP)

    def status(self, rest: str) -> None:
        s = self.s
        keys = ", ".join(f"{k} {'set' if v else 'not set'}" for k, v in configured_keys().items())
        rows = [
            ("model", s.model), ("profile", s.profile or "auto (from keys; else the embedded offline server)"),
            ("base_url", s.base_url or "default"), ("max_tokens", str(s.max_tokens)),
            ("budget", s.budget_status()), ("keys", keys),
            ("chats", ", ".join(f"{n} ({len(c)} turns)" for n, c in s.chats.items()) or "none"),
            ("last used chat", s.current_chat),
        ]
        show(*_table(rows))

    def model(self, rest: str) -> None:
        self.s.model = self._need(rest, "model NAME")
        print(f"model: {self.s.model}")

    def profile(self, rest: str) -> None:
        name = self._need(rest, "profile NAME")
        if name != "auto" and name not in PROFILES:
            raise UsageError(f"unknown profile {name!r}; use one of {', '.join(PROFILES)} or auto")
        self.s.profile = None if name == "auto" else name
        self.s.changed()
        print(f"profile: {name}")

    def max_tokens(self, rest: str) -> None:
        value = self._need(rest, "max_tokens N")
        if not value.isdigit() or int(value) < 1:
            raise UsageError(f"max_tokens: expected a positive whole number, not {value!r}")
        self.s.max_tokens = int(value)
        print(f"max_tokens: {self.s.max_tokens}")

    def budget(self, rest: str) -> None:
        value = self._need(rest, "budget USD")
        if value == "off":
            self.s.set_budget(None)
            print("budget: none")
            return
        try:
            limit = float(value.lstrip("$"))
        except ValueError:
            raise UsageError(f"budget: expected an amount in USD like 5.00, not {value!r}") from None
        self.s.set_budget(limit)
        print(f"budget: {self.s.budget_status()}")

    def base_url(self, rest: str) -> None:
        value = self._need(rest, "base_url URL")
        self.s.base_url = None if value == "off" else value
        self.s.changed()
        print(f"base_url: {self.s.base_url or 'default'}")

    def header(self, rest: str) -> None:
        name, _, value = self._need(rest, "header NAME VALUE").partition(" ")
        if value.strip() in ("", "off"):
            self.s.headers.pop(name.lower(), None)
        else:
            self.s.headers[name.lower()] = value.strip()
            if is_secret_header(name):
                remember(value.strip())
        self.s.changed()
        shown = self.s.headers.get(name.lower())
        print(f"header {name}: {masked(name, shown) if shown else 'off'}")

    def retries(self, rest: str) -> None:
        value = self._need(rest, "retries N")
        if not value.isdigit():
            raise UsageError(f"retries: expected a whole number, not {value!r}")
        self.s.max_retries = int(value)
        self.s.changed()
        print(f"retries: {value}")

    def keys(self, rest: str) -> None:
        rows = [(k, "set" if v else "not set") for k, v in configured_keys().items()]
        show(*_table(rows))

    def credits(self, rest: str) -> None:
        key = self.s.client().openrouter.key()

        def money(value: float | None, decimals: int = 4) -> str:  # limits as the budget shows them, spend to 4
            return "no limit" if value is None else usd(value, decimals)

        rows = [("key", key.label or "?"), ("limit", money(key.limit, 2)), ("used", money(key.usage)),
                ("remaining", money(key.limit_remaining)), ("used today", money(key.usage_daily)),
                ("used this month", money(key.usage_monthly))]
        if key.limit_reset:
            rows.append(("limit resets", key.limit_reset))
        show(*_table(rows))

    def openrouter_cache(self, rest: str) -> None:
        self._call_default("openrouter_cache", rest, "on|off|TTL")

    def router_metadata(self, rest: str) -> None:
        self._call_default("openrouter_metadata", rest, "on|off", command="router_metadata")

    def _call_default(self, name: str, rest: str, allowed: str, command: str = "") -> None:
        """A per-call option of the settings table made the session's default for every call."""
        row, name = settings.row(name), command or name
        text = self._need(rest, f"{name} {allowed}")
        try:
            value = row.from_text(text) if row.from_text is not None else text
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
        self.s.openrouter[row.keyword] = value
        self.s.changed()
        print(f"{name}: {settings.switch_text(value)}")

    def models(self, rest: str) -> None:
        found = self.s.client().models.list()
        rows = [(m.id, m.display_name or "") for m in found]
        md = "| model | name |\n|---|---|\n" + "\n".join(f"| `{i}` | {n} |" for i, n in rows) + "\n"
        show(md, "\n".join(f"{i}  {n}" for i, n in rows))

    def chats(self, rest: str) -> None:
        rows = [(n, f"{len(c)} turns" + (" (last used)" if n == self.s.current_chat else "")) for n, c in
                self.s.chats.items()]
        show(*_table(rows or [("(none)", "")]))

    def chat(self, rest: str) -> None:
        chat = self.s.chat(self._need(rest, "chat NAME"))
        self.s.current_chat = chat.name
        IPythonPublisher().show(chat._repr_mimebundle_())

    def reset(self, rest: str) -> None:
        self.s.chats.clear()
        self.s.plans.clear()
        print("chats: all forgotten")

    @staticmethod
    def _need(rest: str, usage: str) -> str:
        if not rest:
            raise UsageError(f"usage: %nbmessages {usage}")
        return rest
