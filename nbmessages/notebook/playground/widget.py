"""The playground widget: settings, prompt, Send/Stop, streamed columns (one, or two to four to compare), code."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from typing import Any, NamedTuple

import ipywidgets as widgets

from ...client.asynchronous import AsyncClient
from ...client.sync import Client
from ...request.builder import Request
from ...types import Message
from ..settings import call_options, request_params
from . import code as codegen
from .columns import MAX_COLUMNS, Column, compare_settings, settings_for_tags
from .controls import Controls
from .conversation import Exchange, Thread
from .fields import ListEntry
from .html import session_html
from .keys import KeyEntry
from .loop import Job
from .sender import run_exchange
from .settings import label, normalise


class Send(NamedTuple):
    """One column's part of a send: where it shows, the request it makes, the options sent as headers."""

    column: Column
    exchange: Exchange
    build: Callable[[], Request]
    options: dict[str, Any]


class Playground(widgets.VBox):
    """An interactive Messages playground; every control is an attribute, ``send()``/``stop()``/``wait()`` drive it."""

    def __init__(self, *, client: Client | AsyncClient | None = None, base_url: str | None = None,
                 api_key: str | None = None, profile: str | None = None,
                 namespace: dict[str, Any] | None = None, compare: list[Any] | None = None,
                 **defaults: Any) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self._namespace = namespace
        self._async_clients: dict[asyncio.AbstractEventLoop, Any] = {}
        self._given_async = client if isinstance(client, AsyncClient) else None
        self.client: Client | AsyncClient = client or Client(api_key, base_url, profile=profile)
        self.job = Job()
        self.finished: list[Exchange] = []  # every finished exchange, for the session line
        self._pending: list[Exchange] = []
        prompt = defaults.pop("prompt", "")
        self._build(prompt)
        self.controls.apply(normalise(defaults))
        self.compare_settings = compare_settings(compare or [])
        if self.compare_settings:
            self.compare_models.value = [c.get("model") or self.model.value for c in self.compare_settings]
            self.compare_toggle.value = True
        self.refresh_models()
        self._update_key_row()
        self._rebuild_columns()

    # -- building

    def _build(self, prompt: str) -> None:
        self.controls = c = Controls(self._user_namespace)
        for name, control in c.widgets.items():  # every control of the settings table, as an attribute
            setattr(self, name, control)
        self.prompt = widgets.Textarea(prompt, placeholder="your message (Send continues the conversation)",
                                       layout=widgets.Layout(width="100%", height="70px"))
        self.send_button = widgets.Button(description="Send", button_style="primary", icon="paper-plane")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.edit_button = widgets.Button(description="Edit last", icon="edit",
                                          tooltip="put the last message back in the box to edit and resend it")
        self.clear_button = widgets.Button(description="Clear", icon="trash", tooltip="start a new conversation")
        self.code_button = widgets.Button(description="Get code", icon="code")
        self.refresh_button = widgets.Button(icon="refresh", tooltip="reload models and the notebook's functions",
                                             layout=widgets.Layout(width="40px"))
        self.compare_toggle = widgets.Checkbox(False, description="compare", indent=False,
                                               layout=widgets.Layout(width="90px"))
        self.compare_models = ListEntry("a model to compare, then Enter", allow_duplicates=True)
        self.key_entry = KeyEntry(self.set_key)
        self.key = self.key_entry.key
        self.notice = widgets.HTML()
        self.usage = widgets.HTML()
        self.output = widgets.HBox(layout=widgets.Layout(width="100%", align_items="stretch"))
        self.code_area = widgets.HTML(layout=widgets.Layout(display="none"))
        self._wire()
        self._css_classes()
        buttons = widgets.HBox([self.send_button, self.stop_button, self.edit_button, self.clear_button,
                                self.code_button, self.refresh_button])
        compare_row = widgets.HBox([self.compare_toggle, widgets.Label("models (2–4):"), self.compare_models])
        self.children = [self.key_entry.box, c.panel(), compare_row, self.prompt, buttons,
                         widgets.HBox([self.usage, self.notice]), self.output, self.code_area]

    def _css_classes(self) -> None:
        """Stable class names for styling and for browser tests."""
        self.add_class("nbmessages-playground")
        for name in ("prompt", "send_button", "stop_button", "output", "usage", "code_area"):
            getattr(self, name).add_class("nbmessages-" + name.replace("_button", "").replace("_", "-"))

    def _wire(self) -> None:
        self.send_button.on_click(lambda _b: self.send())
        self.stop_button.on_click(lambda _b: self.stop())
        self.edit_button.on_click(lambda _b: self.edit_last())
        self.clear_button.on_click(lambda _b: self.clear())
        self.code_button.on_click(lambda _b: self._toggle_code())
        self.refresh_button.on_click(lambda _b: self._refresh())
        self.compare_toggle.observe(lambda _c: self._rebuild_columns(), "value")
        self.compare_models.observe(self._compare_tags_changed, "value")

    def _user_namespace(self) -> dict[str, Any]:
        if self._namespace is not None:
            return self._namespace
        try:
            from IPython import get_ipython
        except ImportError:
            return {}
        shell = get_ipython()
        return shell.user_ns if shell is not None else {}

    # -- models and keys

    def refresh_models(self) -> list[str]:
        """Offer the backend's models (``GET /v1/models``) in the model box; free text stays allowed."""
        try:
            with self._lister() as lister:
                names = [m.id for m in lister.models.list()]
        except Exception:  # noqa: BLE001 - a backend without /v1/models still takes any model name
            names = []
        self.controls.set_model_options(names)
        return names

    def _lister(self) -> Client:
        return Client.from_client(self.client, max_retries=0, timeout=10.0)

    def set_key(self, key: str, profile: str = "anthropic") -> None:
        """Use an API key (held by the client in memory only; never in widget state, code or the ledger)."""
        self.client = self.client.copy(api_key=key, profile=profile, base_url=None)
        self._given_async = None
        self._async_clients.clear()
        self.refresh_models()
        self._update_key_row()

    def _update_key_row(self) -> None:
        if self.client.api_key is not None:
            self.key_entry.show(False)
            return
        where = "the embedded offline model" if getattr(self.client, "uses_embedded_server", False) else \
            html.escape(self.client.base_url)
        self.key_entry.show(True, f'<span style="color:#666;font-size:90%">No API key configured: answers come from '
                             f"{where}. Paste a key to use Anthropic or OpenRouter.</span>")

    def _async_client(self) -> Any:
        """The async client for the running loop (httpx connection pools belong to one loop)."""
        if self._given_async is not None:
            return self._given_async
        loop = asyncio.get_running_loop()
        if loop not in self._async_clients:
            self._async_clients[loop] = AsyncClient.from_client(self.client)
        return self._async_clients[loop]

    # -- compare

    def _compare_tags_changed(self, change: dict) -> None:
        self.compare_settings = settings_for_tags(change["new"], self.compare_settings, self.model.value)
        self._rebuild_columns()

    @property
    def comparing(self) -> bool:
        """Whether sends go to several columns."""
        return self.compare_toggle.value and len(self.compare_settings) >= 2

    def _rebuild_columns(self) -> None:
        """New columns for the current mode (a new mode starts new conversations)."""
        if self.job.running:
            return
        overrides = self.compare_settings[:MAX_COLUMNS] if self.comparing else [{}]
        if self.compare_toggle.value and not self.comparing:
            self._say("compare: add two to four models to compare")
        self.columns = [Column(Thread(dict(o)), titled=self.comparing) for o in overrides]
        self.output.children = [col.box for col in self.columns]
        self._redraw()

    @property
    def threads(self) -> list[Thread]:
        """The conversations, one per column."""
        return [col.thread for col in self.columns]

    # -- sending

    def settings(self, column: int = 0) -> dict[str, Any]:
        """The settings a column sends with: the controls, then the column's overrides."""
        return {**self.controls.settings(), **self.columns[column].thread.overrides}

    def send(self) -> bool:
        """Send the message box to every column (same as clicking Send); return whether a send started."""
        if self.job.running:
            self._say("a send is running: Stop it first")
            return False
        prompt = self.prompt.value
        if not prompt.strip():
            self._say("type a message first")
            return False
        try:
            plan = [self._prepare(i, prompt) for i in range(len(self.columns))]
        except (LookupError, TypeError, ValueError) as exc:
            self._say(f"⚠ {exc}")
            return False
        self._pending = [send.exchange for send in plan]
        self.prompt.value = ""
        self._busy(True)
        self.job.start(lambda: self._run(plan))
        return True

    def _prepare(self, index: int, prompt: str) -> Send:
        column = self.columns[index]
        settings = self.settings(index)
        params = request_params(settings)
        history = column.thread.history()
        ex = Exchange(prompt, model=params["model"], profile=self.client.profile.name,
                      host=self.client.base_host, max_tokens=params["max_tokens"])
        column.thread.exchanges.append(ex)
        column.refresh(force=True)

        def build() -> Request:
            return Request(messages=[*history, ex.prompt_turn], **params)

        return Send(column, ex, build, call_options(settings))

    async def _run(self, plan: list[Send]) -> None:
        try:
            client = self._async_client()
            tasks = [self.job.spawn(run_exchange(client, s.build, s.exchange, s.column.refresh, s.options))
                     for s in plan]
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._finish()

    def _finish(self) -> None:
        self.finished += [ex for ex in self._pending if ex.done]
        self._pending = []
        self._busy(False)
        self._redraw()

    def _abandon(self) -> None:
        """A send stopped before it began: its exchanges end as interrupted with nothing received."""
        for ex in self._pending:
            ex.interrupted = ex.done = True
        self._finish()

    def stop(self) -> None:
        """Stop the streams (same as clicking Stop); each keeps the partial answer received so far."""
        self.job.cancel(abandon=self._abandon)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current send ends; return whether it did within ``timeout`` seconds."""
        return self.job.wait(timeout)

    async def wait_async(self, timeout: float | None = None) -> bool:
        """In a kernel cell: ``await pg.wait_async()`` lets the send run on the kernel's loop meanwhile."""
        return await self.job.wait_async(timeout)

    @property
    def busy(self) -> bool:
        """Whether a send is in progress."""
        return self.job.running

    def _busy(self, busy: bool) -> None:
        self.send_button.disabled = busy
        self.stop_button.disabled = not busy
        self.edit_button.disabled = busy
        self.clear_button.disabled = busy
        self._say("streaming…" if busy else "")

    # -- conversation

    def clear(self) -> None:
        """Start a new conversation in every column."""
        if self.job.running:
            self._say("a send is running: Stop it first")
            return
        for thread in self.threads:
            thread.exchanges.clear()
        self._redraw()

    def edit_last(self) -> str | None:
        """Take the last exchange back and put its message in the box, to edit and Send again."""
        if self.job.running:
            self._say("a send is running: Stop it first")
            return None
        popped = [t.pop() for t in self.threads]
        prompt = next((ex.prompt for ex in popped if ex is not None), None)
        if prompt is not None:
            self.prompt.value = prompt
        self._redraw()
        return prompt

    # -- results

    @property
    def last_exchanges(self) -> list[Exchange | None]:
        """The latest exchange of each column (message, error, interrupted, usage, cost, ttft, duration)."""
        return [t.last for t in self.threads]

    @property
    def last_messages(self) -> list[Message | None]:
        """The latest answer of each column (partial when stopped)."""
        return [ex.message if ex is not None else None for ex in self.last_exchanges]

    @property
    def last_message(self) -> Message | None:
        """The latest answer of the first column (partial when stopped)."""
        return self.last_messages[0]

    @property
    def last_error(self) -> BaseException | None:
        """The error of the first column's latest exchange, if it failed."""
        ex = self.last_exchanges[0]
        return ex.error if ex is not None else None

    # -- code

    def _code_inputs(self, index: int) -> tuple[dict[str, Any], list[Any], str]:
        """Settings, history and prompt: the next send's if the box has text, else the last send's."""
        thread = self.threads[index]
        settings = self.settings(index)
        if self.prompt.value.strip() or not thread.exchanges:
            return settings, thread.history(), self.prompt.value or "Hello!"
        earlier = Thread(thread.overrides, thread.exchanges[:-1])
        return settings, earlier.history(), thread.exchanges[-1].prompt

    def magic_code(self, column: int = 0) -> str:
        """The %%message cell for a column's settings and prompt."""
        settings, history, prompt = self._code_inputs(column)
        return codegen.magic_cell(settings, prompt, history=bool(history), profile=self.client.profile.name)

    def python_code(self, column: int = 0) -> str:
        """Python code sending a column's request with ``nbmessages.Client`` (the key is never written)."""
        settings, history, prompt = self._code_inputs(column)
        return codegen.python_code(settings, history, prompt, codegen.client_setup(self.client))

    def code(self) -> str:
        """The get-code text: for each column, the %%message cell and the Python code."""
        sections = []
        for i, column in enumerate(self.columns):
            title = f"# ── {label(column.thread.overrides)}\n" if len(self.columns) > 1 else ""
            sections.append(f"{title}# %%message cell\n{self.magic_code(i)}\n\n# Python\n{self.python_code(i)}")
        return "\n\n".join(sections)

    def _toggle_code(self) -> None:
        visible = self.code_area.layout.display != "none"
        if visible:
            self.code_area.layout.display = "none"
            return
        try:
            text = self.code()
        except (LookupError, TypeError, ValueError) as exc:
            text = f"⚠ {exc}"
        self.code_area.value = f"<pre style='white-space:pre-wrap;font-size:90%'>{html.escape(text)}</pre>"
        self.code_area.layout.display = None

    # -- display helpers

    def _refresh(self) -> None:
        self.controls.refresh_namespace()
        self.refresh_models()

    def _redraw(self) -> None:
        for col in self.columns:
            col.refresh(force=True)
        self.usage.value = session_html([Thread(exchanges=self.finished)])

    def _say(self, text: str) -> None:
        self.notice.value = f'<span style="color:#a60;margin-left:1em">{html.escape(text)}</span>' if text else ""

    def close(self) -> None:
        """Close the widget and its children (the HTTP clients close with the process)."""
        for child in self._all_widgets():
            child.close()
        super().close()

    def _all_widgets(self) -> list[widgets.Widget]:
        found: list[widgets.Widget] = []
        stack = list(self.children)
        while stack:
            w = stack.pop()
            found.append(w)
            stack += list(getattr(w, "children", ()))
        return found

