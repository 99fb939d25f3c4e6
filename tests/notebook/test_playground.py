"""The widget playground, driven through its testing surface against the local server (no browser, no key)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import ipywidgets as widgets
import pytest
from pydantic import BaseModel

import nbmessages
from nbmessages import local
from nbmessages.notebook.playground import Playground
from nbmessages.notebook.playground.fields import ListEntry
from nbmessages.notebook.playground.settings import namespace_functions
from nbmessages.notebook.render import Transcript, render_bundle

CANARY = "sk-ant-api03-CANARY-playground-0123456789abcdef"


def get_weather(city: str) -> str:
    """Current weather in a city.

    Args:
        city: The city name.
    """
    return f"18°C and cloudy in {city}"


class Person(BaseModel):
    name: str
    age: int


NAMESPACE = {"get_weather": get_weather, "Person": Person, "x": 3, "_hidden": lambda: 0}




@pytest.fixture(scope="module")
def paced() -> Iterator[Any]:
    """200 tokens a second: an answer takes about half a second (to see that compare columns overlap)."""
    with local.start(pace=200, ttft=0) as running:
        yield running


def make(server: Any, **kw: Any) -> Playground:
    kw.setdefault("namespace", NAMESPACE)
    return nbmessages.playground(base_url=server.base_url, **kw)


def ask(pg: Playground, prompt: str, timeout: float = 30) -> Any:
    pg.prompt.value = prompt
    assert pg.send(), pg.notice.value
    assert pg.wait(timeout), "the send did not end in time"
    return pg.last_message


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def live_text(pg: Playground, column: int = 0) -> str:
    ex = pg.last_exchanges[column]
    stream = ex.live if ex is not None else None
    return stream.current_message_snapshot.text if stream is not None else ""


class CapturingClient:
    """An AsyncClient whose request bodies are kept, to check what the controls send."""

    def __init__(self, server: Any, base_url: str | None = None, **options: Any) -> None:
        self.bodies: list[dict[str, Any]] = []

        async def keep(request: httpx.Request) -> None:
            if request.method == "POST":
                self.bodies.append(json.loads(request.content))

        http = httpx.AsyncClient(timeout=30, event_hooks={"request": [keep]})
        self.client = nbmessages.AsyncClient(base_url=base_url or server.base_url, http_client=http, **options)


class HeaderSpy:
    """A forwarding HTTP server in front of the embedded one that keeps the headers of every request it relays."""

    HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}

    def __init__(self, upstream: str) -> None:
        import http.server
        import threading

        self.seen: list[tuple[str, str, dict[str, str]]] = []
        spy = self

        class Relay(http.server.BaseHTTPRequestHandler):
            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                spy.seen.append((self.command, self.path, headers))
                sent = {k: v for k, v in headers.items() if k not in spy.HOP}
                got = httpx.request(self.command, upstream + self.path, content=body, headers=sent, timeout=30)
                self.send_response(got.status_code)
                for key, value in got.headers.items():
                    if key.lower() not in spy.HOP:
                        self.send_header(key, value)
                self.send_header("content-length", str(len(got.content)))
                self.end_headers()
                self.wfile.write(got.content)

            do_GET = do_POST = _relay

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the widget and its controls


def test_the_playground_is_an_ipywidgets_box_with_every_control_as_an_attribute(server: Any) -> None:
    pg = make(server)
    assert isinstance(pg, widgets.VBox) and callable(nbmessages.playground)
    assert nbmessages.playground is nbmessages.playground.playground or callable(nbmessages.playground)
    for name, kind in [("model", widgets.Combobox), ("system", widgets.Textarea), ("prompt", widgets.Textarea),
                       ("max_tokens", widgets.BoundedIntText), ("thinking", widgets.Checkbox),
                       ("thinking_budget", widgets.BoundedIntText), ("effort", widgets.Dropdown),
                       ("stop_sequences", ListEntry), ("tools", widgets.SelectMultiple),
                       ("schema", widgets.Dropdown), ("provider_order", ListEntry),
                       ("fallback_models", ListEntry), ("send_button", widgets.Button),
                       ("stop_button", widgets.Button), ("key", widgets.Password),
                       ("compare_toggle", widgets.Checkbox), ("compare_models", ListEntry)]:
        assert isinstance(getattr(pg, name), kind), name
    for name in ("temperature", "top_p", "top_k"):
        assert getattr(pg, name).value is None  # unset: not sent
    assert pg.stop_button.disabled and not pg.send_button.disabled


def test_model_choices_come_from_v1_models_and_free_text_is_allowed(server: Any) -> None:
    pg = make(server)
    offered = {m.id for m in nbmessages.Client(base_url=server.base_url).models.list()}
    assert offered <= set(pg.model.options) and pg.model.ensure_option is False
    pg.model.value = "my-own-fine-tune"
    assert "answering as `my-own-fine-tune`" in ask(pg, "Hi").text


def test_tools_and_schemas_are_picked_from_the_namespace(server: Any) -> None:
    pg = make(server)
    assert pg.tools.options == ("get_weather",)  # functions only, no private names, no other values
    assert [v for _label, v in pg.schema.options] == ["", "Person"]
    NAMESPACE["later_tool"] = lambda: None
    try:
        pg.refresh_button.click()  # the namespace is read again
        assert "later_tool" in pg.tools.options
    finally:
        del NAMESPACE["later_tool"]


def test_defaults_set_the_controls(server: Any) -> None:
    pg = make(server, model="claude-haiku-4-5", system="Be brief.", temperature=0.3, top_k=5, max_tokens=300,
              thinking=1500, effort="low", stop=["STOP"], tools=[get_weather], schema="Person",
              provider_order=["anthropic"], fallback_models=["x/y"], prompt="Hello")
    assert (pg.model.value, pg.system.value, pg.temperature.value, pg.top_k.value, pg.max_tokens.value) == (
        "claude-haiku-4-5", "Be brief.", 0.3, 5, 300)
    assert pg.thinking.value and pg.thinking_budget.value == 1500 and pg.effort.value == "low"
    assert pg.stop_sequences.value == ["STOP"] and pg.tools.value == ("get_weather",) and pg.schema.value == "Person"
    assert pg.provider_order.value == ["anthropic"] and pg.fallback_models.value == ["x/y"]
    assert pg.prompt.value == "Hello"
    with pytest.raises(TypeError, match="unknown setting 'temprature'"):
        make(server, temprature=0.3)


def test_every_control_reaches_the_request_body(server: Any) -> None:
    cap = CapturingClient(server)
    pg = Playground(client=cap.client, namespace=NAMESPACE)
    pg.model.value = "claude-sonnet-4-0"
    pg.system.value = "You are terse."
    pg.temperature.value, pg.top_p.value, pg.top_k.value = 0.25, 0.9, 7
    pg.max_tokens.value = 500
    pg.stop_sequences.value = ["END"]
    pg.effort.value = "high"
    ask(pg, "Hi")
    assert pg.last_error is None
    body = cap.bodies[-1]
    assert body["model"] == "claude-sonnet-4-0" and body["system"] == "You are terse." and body["stream"] is True
    assert (body["temperature"], body["top_p"], body["top_k"], body["max_tokens"]) == (0.25, 0.9, 7, 500)
    assert body["output_config"] == {"effort": "high"} and body["stop_sequences"] == ["END"]
    pg.temperature.value = pg.top_p.value = pg.top_k.value = None  # unset again: not sent
    pg.thinking.value, pg.thinking_budget.value = True, 1024
    ask(pg, "Again")
    assert pg.last_error is None
    body = cap.bodies[-1]
    assert not {"temperature", "top_p", "top_k"} & set(body)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}
    assert body["max_tokens"] == 1524  # the budget counts toward max_tokens: room is kept for the answer


def test_openrouter_routing_controls_reach_the_request_body(server: Any) -> None:
    cap = CapturingClient(server, base_url=server.base_url + "/api", api_key="sk-or-local")  # OpenRouter's shape
    pg = Playground(client=cap.client, namespace=NAMESPACE)
    pg.provider_order.value = ["anthropic", "google-vertex"]
    pg.fallback_models.value = ["anthropic/claude-haiku-4.5"]
    ask(pg, "Hi")
    assert pg.last_error is None
    assert cap.bodies[-1]["provider"] == {"order": ["anthropic", "google-vertex"]}
    assert cap.bodies[-1]["models"] == ["anthropic/claude-haiku-4.5"]


def test_openrouter_cache_and_metadata_controls_send_their_headers(server: Any, monkeypatch: Any) -> None:
    client = nbmessages.AsyncClient(base_url=server.base_url + "/api", api_key="sk-or-local")
    pg = Playground(client=client, namespace=NAMESPACE, model="anthropic/claude-haiku-4.5")
    assert isinstance(pg.openrouter_cache, widgets.Checkbox) and pg.openrouter_cache_ttl.disabled
    pg.openrouter_cache.value, pg.openrouter_cache_ttl.value = True, 60
    pg.openrouter_metadata.value = True
    ask(pg, "Cache me")
    assert "response cache HIT" not in pg.columns[0].stats.value and "Routing: served by" in pg.columns[0].html
    pg.clear()  # the same body again: the server's response cache answers, free
    ask(pg, "Cache me")
    assert pg.last_error is None and "response cache HIT (free)" in pg.columns[0].stats.value
    assert pg.last_exchanges[0].cost == 0
    cell = pg.magic_code().splitlines()[0]
    assert "--openrouter-cache 60 --openrouter-metadata" in cell
    code = pg.python_code()
    assert "openrouter_cache=60," in code and "openrouter_metadata=True," in code
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-local")
    scope: dict[str, Any] = {}
    exec(compile(code, "<get code>", "exec"), scope)  # noqa: S102 - our own generated code
    assert scope["message"].text == pg.last_message.text
    assert scope["message"].openrouter_metadata is not None


# -- streaming and rendering


def test_send_streams_the_answer_drawn_by_the_shared_renderer(server: Any) -> None:
    pg = make(server)
    message = ask(pg, "Hello there")
    assert message.text.startswith("This is the **nbmessages offline model**")
    html = pg.columns[0].html
    blocks = render_bundle([b.to_dict() for b in message.content], html=True)["text/html"]  # blocks, no footer
    inner = blocks.removeprefix('<div class="nbmessages">').removesuffix("</div>").strip()
    assert inner in html  # the same HTML as the magic, not a second renderer
    assert "<b>You</b>" in html and "<p>Hello there</p>" in html
    ex = pg.last_exchanges[0]  # and the whole answer is the renderer's output for the exchange
    assert render_bundle(Transcript(*ex.parts()), ex.status(), html=True)["text/html"] in html


def test_the_usage_line_shows_tokens_cost_first_token_and_duration(server: Any) -> None:
    pg = make(server)
    message = ask(pg, "Hello")
    assert pg.columns[0].html.count("first token") == 0  # the answer has no footer: the usage line is shown once
    stats = pg.columns[0].stats.value
    assert f"in {message.usage.input_tokens} · out {message.usage.output_tokens}" in stats
    assert "$" in stats and "first token" in stats and stats.endswith(" s</span>")
    ex = pg.last_exchanges[0]
    assert ex.cost and ex.cost > 0 and ex.ttft is not None and ex.duration >= ex.ttft
    assert "session: 1 call" in pg.usage.value


def test_the_usage_line_is_live_while_streaming(slow_server: Any) -> None:
    pg = make(slow_server)
    pg.prompt.value = "Hello"
    pg.send()
    try:
        wait_for(lambda: live_text(pg), 10, "streamed text")
        wait_for(lambda: "streaming…" in pg.columns[0].stats.value, 5, "a live usage line")
        wait_for(lambda: " · out " in pg.columns[0].stats.value, 5, "live token counts")  # after message_start
        assert "⏳" not in pg.columns[0].html
        first = _out_count(pg.columns[0].stats.value)
        wait_for(lambda: _out_count(pg.columns[0].stats.value) > max(first, 1), 10, "the output count growing")
    finally:
        pg.stop()
        assert pg.wait(5)


def _out_count(stats: str) -> int:
    import re

    found = re.search(r"out (\d+)", stats)
    return int(found.group(1)) if found else 0


def test_thinking_blocks_are_drawn_like_the_magic_draws_them(server: Any) -> None:
    pg = make(server, thinking=True)
    ask(pg, "Think first")
    assert "<summary>💭 Thinking</summary>" in pg.columns[0].html


def test_tools_run_through_the_tool_loop(server: Any) -> None:
    pg = make(server, tools=["get_weather"])
    message = ask(pg, "What is the weather in Paris? Use get_weather.")
    ex = pg.last_exchanges[0]
    assert [type(s).__name__ for s in ex.steps] == ["Message", "dict", "Message"]
    assert "18°C and cloudy in Paris" in message.text
    html = pg.columns[0].html
    assert "🔧 tool call" in html and "↩ tool result" in html


def test_structured_output_parses_into_the_chosen_model(server: Any) -> None:
    pg = make(server, schema="Person")
    message = ask(pg, "Invent a person.")
    assert isinstance(message.parsed_output, Person)


# -- compare


@pytest.mark.parametrize("models", [
    ["claude-sonnet-4-5", "claude-haiku-4-5"],
    ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-8"],
    ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-8", "nbmessages-offline"],
])
def test_compare_answers_side_by_side_with_their_own_figures(server: Any, models: list[str]) -> None:
    pg = make(server, compare=models)
    assert pg.comparing and len(pg.output.children) == len(models)
    ask(pg, "Compare this")
    for model, column, message, ex in zip(models, pg.columns, pg.last_messages, pg.last_exchanges, strict=True):
        assert f"answering as `{model}`" in message.text
        assert model in column.title.value
        stats = column.stats.value
        assert f"out {message.usage.output_tokens}" in stats and "first token" in stats
        assert ex.ttft is not None and ex.duration is not None
    assert pg.last_message is pg.last_messages[0]


def test_compare_columns_are_sent_concurrently(paced: Any) -> None:
    pg = make(paced, compare=["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-8", "nbmessages-offline"])
    pg.prompt.value = "Tell me something"
    pg.send()
    wait_for(lambda: paced.active_streams == 4 or not pg.busy, 15, "four streams at once")
    assert paced.active_streams == 4, "the four columns did not stream at the same time"
    assert pg.wait(30)
    assert all(m is not None and m.stop_reason == "end_turn" for m in pg.last_messages)


def test_compare_takes_dicts_of_settings(server: Any) -> None:
    pg = make(server, compare=[{"model": "claude-sonnet-4-5", "temperature": 0.1},
                               {"model": "claude-sonnet-4-5", "max_tokens": 400}])
    first, second = (m.text for m in (ask(pg, "Hi"), pg.last_messages[1]))
    assert "temperature=0.1" in first and "max_tokens=400" in second and "temperature" not in second
    assert "temperature=0.1" in pg.columns[0].title.value


def test_compare_from_the_toggle_and_the_model_tags(server: Any) -> None:
    pg = make(server)
    pg.compare_models.value = ["claude-haiku-4-5", "claude-opus-4-8"]
    assert len(pg.columns) == 1  # the toggle is still off
    pg.compare_toggle.value = True
    assert len(pg.columns) == 2
    ask(pg, "Hi")
    assert [m.model for m in pg.last_messages] == ["claude-haiku-4-5", "claude-opus-4-8"]
    pg.compare_toggle.value = False
    assert len(pg.columns) == 1


@pytest.mark.parametrize("count", [1, 5])
def test_compare_needs_two_to_four(server: Any, count: int) -> None:
    with pytest.raises(ValueError, match="2 to 4"):
        make(server, compare=["claude-sonnet-4-5"] * count)


# -- stop, errors, responsiveness


def test_send_returns_at_once_and_wait_reports_whether_it_ended(slow_server: Any) -> None:
    pg = make(slow_server)
    pg.prompt.value = "Hello"
    assert pg.send()
    assert pg.busy and pg.send_button.disabled and not pg.stop_button.disabled
    assert pg.wait(0.05) is False
    assert not pg.send(), "a second send while one runs is refused"
    pg.stop()
    assert pg.wait(5) is True and not pg.busy and not pg.send_button.disabled


def test_stop_ends_the_stream_and_keeps_the_partial_answer(slow_server: Any) -> None:
    pg = make(slow_server)
    pg.prompt.value = "Tell me a long story"
    pg.send()
    wait_for(lambda: len(live_text(pg)) > 20, 15, "some streamed text")
    pg.stop_button.click()
    assert pg.wait(10), "Stop did not end the stream"
    ex = pg.last_exchanges[0]
    assert ex.interrupted and ex.error is None
    partial = pg.last_message.text
    assert partial.startswith("This is the") and len(partial) > 20
    assert "what the request asked for" not in partial.lower()  # cut short: the full answer goes on
    assert "Interrupted" in pg.columns[0].html
    rows = nbmessages.usage().query("message_id == @pg.last_message.id")  # the ledger has the stopped call
    assert rows["outcome"].tolist() == ["interrupted"] and rows["chat"].tolist() == ["playground"]
    # the partial answer stays in the conversation
    history = pg.threads[0].history()
    assert history[1]["role"] == "assistant" and history[1]["content"][0]["text"] == partial.rstrip()


def test_stop_in_compare_keeps_every_partial_answer(slow_server: Any) -> None:
    pg = make(slow_server, compare=["claude-sonnet-4-5", "claude-haiku-4-5"])
    pg.prompt.value = "Tell me a long story"
    pg.send()
    wait_for(lambda: live_text(pg, 0) and live_text(pg, 1), 15, "text in both columns")
    pg.stop()
    assert pg.wait(10)
    assert all(ex.interrupted and ex.message.text for ex in pg.last_exchanges)


def test_an_http_error_appears_in_the_widget_error_box(server: Any) -> None:
    client = nbmessages.Client(base_url=server.base_url, default_headers={"x-nbmessages-fault": "overloaded"},
                               max_retries=0)
    pg = Playground(client=client, namespace=NAMESPACE)
    ask(pg, "Hi")
    assert isinstance(pg.last_error, nbmessages.OverloadedError) and pg.last_message is None
    html = pg.columns[0].html
    assert "⚠ The API is overloaded (overloaded_error 529)" in html
    assert not pg.busy and not pg.send_button.disabled


def test_a_mid_stream_error_keeps_the_partial_answer_above_the_error_box(server: Any) -> None:
    client = nbmessages.Client(base_url=server.base_url, default_headers={"x-nbmessages-fault": "error_event"})
    pg = Playground(client=client, namespace=NAMESPACE)
    ask(pg, "Hi")
    assert isinstance(pg.last_error, nbmessages.StreamEventError)
    assert pg.last_message is not None and pg.last_message.text
    html = pg.columns[0].html
    assert "The server reported an error mid-stream" in html
    assert pg.last_message.text.startswith("This is the") and html.index("This is the") < html.index("⚠")
    assert pg.threads[0].history()[1]["role"] == "assistant"  # the partial text can be continued


def test_an_invalid_request_is_shown_not_sent(server: Any) -> None:
    pg = make(server)
    pg.stop_sequences.value = ["   "]
    ask(pg, "Hi")
    assert isinstance(pg.last_error, nbmessages.RequestValidationError)
    assert "Invalid request (not sent)" in pg.columns[0].html
    assert pg.threads[0].history() == []  # nothing to replay


def test_an_empty_message_is_not_sent(server: Any) -> None:
    pg = make(server)
    assert pg.send() is False and "type a message" in pg.notice.value and pg.last_message is None


# -- conversation


def test_send_continues_the_conversation(server: Any) -> None:
    pg = make(server)
    ask(pg, "First")
    assert "conversation: 1 message (1 user)" in pg.last_message.text
    assert pg.prompt.value == ""  # the box empties on send
    first_view = pg.columns[0].answer.children[0]
    drawn = first_view.value
    second = ask(pg, "Second")
    assert pg.columns[0].answer.children[0] is first_view and first_view.value == drawn  # only the new one redraws
    assert "conversation: 3 messages (2 user, 1 assistant)" in second.text
    html = pg.columns[0].html
    assert html.index("<p>First</p>") < html.index("<p>Second</p>")


def test_clear_starts_a_new_conversation(server: Any) -> None:
    pg = make(server)
    ask(pg, "First")
    pg.clear_button.click()
    assert pg.threads[0].exchanges == [] and "First" not in pg.columns[0].html
    assert "conversation: 1 message (1 user)" in ask(pg, "Again").text
    assert "session: 2 calls" in pg.usage.value  # the session total survives a clear


def test_edit_and_resend_the_last_user_turn(server: Any) -> None:
    pg = make(server)
    ask(pg, "First")
    ask(pg, "Secnod with a typo")
    pg.edit_button.click()
    assert pg.prompt.value == "Secnod with a typo" and len(pg.threads[0].exchanges) == 1
    assert "Secnod" not in pg.columns[0].html
    pg.prompt.value = "Second, fixed"
    pg.send_button.click()
    assert pg.wait(30)
    text = pg.last_message.text
    assert "Second, fixed" in text and "conversation: 3 messages (2 user, 1 assistant)" in text
    assert len(pg.threads[0].exchanges) == 2


def test_edit_in_compare_takes_back_every_column(server: Any) -> None:
    pg = make(server, compare=["claude-sonnet-4-5", "claude-haiku-4-5"])
    ask(pg, "One")
    assert pg.edit_last() == "One"
    assert all(t.exchanges == [] for t in pg.threads)


# -- get code


def test_get_code_shows_the_magic_cell_and_python(server: Any) -> None:
    pg = make(server, system="Be brief.", temperature=0.5, stop=["END"], tools=["get_weather"], schema="Person",
              thinking=2048, effort="medium", provider_order=["anthropic"], fallback_models=["a/b", "c/d"])
    pg.prompt.value = "Hello {x}"
    text = pg.code()
    cell = pg.magic_code()
    assert cell.splitlines()[0] == (
        '%%message --model claude-sonnet-4-5 --max-tokens 3072 -s "Be brief." --temperature 0.5 --thinking 2048 '
        "--effort medium --stop END --tools get_weather --schema Person --provider anthropic --models a/b,c/d "
        "--new --no-vars"
    )
    assert cell.splitlines()[1] == "Hello {x}"
    assert "# %%message cell" in text and "# Python" in text and "nbmessages.Client(" in text
    assert "tools=[get_weather]" in text and "output_format=Person" in text and "run_loop" in text
    pg.code_button.click()
    assert pg.code_area.layout.display != "none" and "%%message" in pg.code_area.value


def test_get_code_puts_a_multi_line_system_prompt_in_a_variable(server: Any) -> None:
    pg = make(server, system='Line one\nLine "two"')
    cell = pg.magic_code()
    assert "playground_system = 'Line one\\nLine \"two\"'" in cell and "-s playground_system" in cell


def test_the_python_code_runs_and_gives_the_same_answer(server: Any) -> None:
    pg = make(server, system="Be brief.", temperature=0.5, max_tokens=400)
    ask(pg, "First question")
    ask(pg, "Second question")
    code = pg.python_code()  # the empty box: the code of the last send, conversation included
    assert "First question" in code and "Second question" in code
    scope: dict[str, Any] = {}
    exec(compile(code, "<get code>", "exec"), scope)  # noqa: S102 - our own generated code
    assert scope["message"].text == pg.last_message.text


def test_the_python_code_with_tools_and_schema_runs_and_gives_the_same_answer(server: Any) -> None:
    pg = make(server, tools=["get_weather"])
    ask(pg, "Weather in Oslo? Use get_weather.")
    scope: dict[str, Any] = {"get_weather": get_weather, "Person": Person}
    exec(compile(pg.python_code(), "<get code>", "exec"), scope)  # noqa: S102
    assert scope["message"].text == pg.last_message.text
    pg = make(server, schema="Person")
    ask(pg, "Invent a person")
    exec(compile(pg.python_code(), "<get code>", "exec"), scope)  # noqa: S102
    assert scope["message"].text == pg.last_message.text


def test_compare_code_has_a_section_per_column(server: Any) -> None:
    pg = make(server, compare=["claude-sonnet-4-5", "claude-haiku-4-5"])
    pg.prompt.value = "Hi"
    text = pg.code()
    assert text.count("%%message --model") == 2 and "--model claude-haiku-4-5" in text


# -- key entry


def _all_state(pg: Playground) -> str:
    return json.dumps(widgets.Widget.get_manager_state(drop_defaults=False), default=str) + json.dumps(
        pg.get_state(), default=str)


def test_key_entry_shows_where_no_key_is_configured_and_holds_the_key_in_memory_only(server: Any) -> None:
    pg = make(server)
    assert pg.key_entry.box.layout.display != "none" and "No API key" in pg.key_entry.note.value
    pg.key.set_state({"value": CANARY})  # what the front end sends when the key is typed
    assert pg.key.value == "" and CANARY not in _all_state(pg)
    assert pg.client.api_key.get_secret_value() == CANARY and pg.client.profile.name == "anthropic"
    assert pg.key_entry.box.layout.display == "none"
    assert CANARY not in pg.code() and CANARY not in repr(pg.client)
    assert "ANTHROPIC_API_KEY" in pg.python_code() and "profile='anthropic'" in pg.python_code()


def test_an_openrouter_key_picks_the_openrouter_profile(server: Any) -> None:
    pg = make(server)
    pg.key.value = "sk-or-v1-" + "0" * 20
    pg.key_entry.button.click()
    assert pg.key.value == "" and pg.client.profile.name == "openrouter"


def test_no_key_entry_when_a_key_is_configured(server: Any) -> None:
    pg = Playground(client=nbmessages.Client(api_key="local-key", base_url=server.base_url), namespace=NAMESPACE)
    assert pg.key_entry.box.layout.display == "none"


def test_the_password_value_is_never_echoed_to_other_front_ends() -> None:
    from nbmessages.notebook.playground.fields import SecretField

    assert SecretField().trait_metadata("value", "echo_update") is False


# -- in a real kernel: the kernel's event loop, other cells while it streams, saved widget state

KERNEL_CELLS = [
    """import asyncio, json, time, warnings
import nbmessages
from nbmessages import local
fast, slow = local.start(pace=0, ttft=0), local.start(pace=20, ttft=0)
facts = {}""",
    # send() and wait() in one cell: the send had not started on the kernel's loop, so wait() may block
    """pg = nbmessages.playground(base_url=fast.base_url)
pg.prompt.value = "Hello from a kernel"
pg.send()
facts["same_cell_wait"] = pg.wait(30)
facts["same_cell_text"] = pg.last_message.text[:40]""",
    """pg2 = nbmessages.playground(base_url=slow.base_url)
pg2.prompt.value = "Tell me a long story"
t0 = time.perf_counter()
pg2.send()
facts["send_seconds"] = time.perf_counter() - t0""",
    # another cell runs while the answer streams
    """facts["busy_in_next_cell"] = pg2.busy
facts["on_kernel_loop"] = pg2.job.loop is asyncio.get_running_loop()""",
    """await asyncio.sleep(1.0)  # the kernel's loop streams meanwhile
live = pg2.last_exchanges[0].live
facts["streamed_chars"] = len(live.current_message_snapshot.text) if live is not None else 0
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    facts["wait_on_own_loop"] = pg2.wait(0.1)
facts["wait_warned"] = any("wait_async" in str(w.message) for w in caught)
t1 = time.perf_counter()
pg2.stop()
facts["stopped"] = await pg2.wait_async(5)
facts["stop_seconds"] = time.perf_counter() - t1
facts["interrupted"] = pg2.last_exchanges[0].interrupted
facts["partial_chars"] = len(pg2.last_message.text)""",
    """pg2.key.set_state({"value": "sk-ant-CANARY-in-" + "kernel-42"})  # as the front end sends a typed key
facts["key_cleared"] = pg2.key.value == ""
facts["client_has_key"] = pg2.client.api_key.get_secret_value().endswith("in-" + "kernel-42")""",
    """print(json.dumps(facts))""",
]


def test_in_a_kernel_sends_run_on_its_loop_and_the_key_never_reaches_saved_widget_state(tmp_path: Any) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in KERNEL_CELLS])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    facts = json.loads(nb.cells[-1].outputs[0]["text"])
    assert facts["same_cell_wait"] and facts["same_cell_text"].startswith("This is the")
    assert facts["send_seconds"] < 0.5 and facts["busy_in_next_cell"] and facts["on_kernel_loop"]
    assert facts["streamed_chars"] > 0, "nothing streamed while the kernel ran other cells"
    assert facts["wait_on_own_loop"] is False and facts["wait_warned"]
    assert facts["stopped"] and facts["stop_seconds"] < 1.0 and facts["interrupted"] and facts["partial_chars"] > 0
    assert facts["key_cleared"] and facts["client_has_key"]
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    saved = path.read_text()
    state = json.dumps(nb.metadata["widgets"])
    assert "Send" in state and "Stop" in state  # the widget state was saved…
    assert "CANARY-in-kernel-42" not in saved  # …without the key


def test_a_playground_from_a_client_keeps_its_version_ledger_and_budget(server: Any, tmp_path: Any) -> None:
    from nbmessages.ledger.budget import BudgetExceededError
    from nbmessages.ledger.store import Ledger

    spy = HeaderSpy(server.base_url)
    path = tmp_path / "playground.sqlite"
    try:
        client = nbmessages.Client(base_url=spy.base_url, budget=5, ledger=path, anthropic_version="2026-10-21")
        pg = make(server, client=client)
        assert ask(pg, "Which version?").text and pg.last_error is None
        sent = [h for method, url, h in spy.seen if method == "POST" and url == "/v1/messages"]
        assert sent and {h["anthropic-version"] for h in sent} == {"2026-10-21"}
        rows = Ledger(path).rows()
        assert len(rows) == 1 and rows[0]["message_id"] == pg.last_message.id
        assert client.budget.calls == 1  # the playground's async client spent from this client's budget
        client.budget.limit = 0
        ask(pg, "And now?")
        assert isinstance(pg.last_error, BudgetExceededError)
        assert len(Ledger(path).rows()) == 1 and len([u for m, u, _ in spy.seen if m == "POST"]) == len(sent)
    finally:
        spy.close()


def test_an_availability_error_box_shows_the_code_and_the_fallback_models(server: Any) -> None:
    fault = "unavailable;code=free_variant_ended;fallback=anthropic/claude-haiku-4.5"
    client = nbmessages.Client(base_url=server.base_url + "/api", default_headers={"x-nbmessages-fault": fault},
                               max_retries=0)
    pg = Playground(client=client, namespace=NAMESPACE)
    ask(pg, "Hi")
    assert isinstance(pg.last_error, nbmessages.NotFoundError)
    html = pg.columns[0].html
    assert "free_variant_ended" in html and "--models anthropic/claude-haiku-4.5" in html


def test_a_list_entry_adds_what_is_typed_on_enter_and_removes_a_clicked_entry() -> None:
    entry = ListEntry("a stop sequence, then Enter")
    assert entry.entry.placeholder == "a stop sequence, then Enter" and entry.entry.continuous_update is False
    for typed in ("END", "   ", "Human:", "END"):  # Enter sends the box's text: blank and repeats add nothing
        entry.entry.value = typed
    assert entry.value == ["END", "Human:"] and entry.entry.value == ""
    assert [b.description for b in entry.entries.children] == ["END ✕", "Human: ✕"]
    entry.entries.children[0].click()
    assert entry.value == ["Human:"]
    entry.value = ["a", "b"]  # set from code: drawn too
    assert len(entry.entries.children) == 2


def test_the_tools_picker_offers_only_functions_defined_in_the_notebook() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("def lookup(city: str) -> str:\n    return city")
    names = namespace_functions(shell.user_ns)
    assert "lookup" in names and "open" not in names and "get_ipython" not in names
    assert "open" in shell.user_ns  # IPython's own open is there, but it is no tool of the user's
    assert set(namespace_functions(NAMESPACE)) == {"get_weather"}  # a plain dict: its functions
