"""%%message, %message and %nbmessages in a real IPython shell, against the local server over loopback HTTP."""

from __future__ import annotations

import base64
import json
import re
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbmessages
import nbmessages.local
import nbmessages.notebook.magic.magics
from nbmessages.testing import message_events, mock_transport, sse

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Cell:
    """What a cell did: its result, printed text, every display output and update."""

    result: Any
    error: BaseException | None
    stdout: str
    stderr: str
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shown(self) -> list[dict[str, str]]:
        """The outputs as a saved notebook keeps them (new displays; updates excluded)."""
        return [o["data"] for o in self.outputs if not o["update"]]

    @property
    def updates(self) -> list[dict[str, str]]:
        return [o["data"] for o in self.outputs if o["update"]]

    @property
    def markdown(self) -> str:
        """All Markdown shown, joined."""
        return "\n".join(d.get("text/markdown", "") for d in self.shown)

    @property
    def plain(self) -> str:
        return "\n".join(d.get("text/plain", "") for d in self.shown)




@pytest.fixture
def ip(server, monkeypatch):
    monkeypatch.setenv("NBMESSAGES_DISPLAY", "live")
    monkeypatch.setenv("NBMESSAGES_LEDGER", ":memory:")
    shell = InteractiveShell.instance()
    nbmessages.notebook.magic.magics.reset_session()
    shell.run_cell("%load_ext nbmessages")
    run(shell, f"%nbmessages base_url {server.base_url}")
    yield shell
    nbmessages.notebook.magic.magics.reset_session()


def run(shell: InteractiveShell, code: str) -> Cell:
    with capture_output() as cap:
        result = shell.run_cell(code, store_history=True)
    return Cell(result.result, result.error_in_exec, cap.stdout, cap.stderr, list(cap._outputs))  # noqa: SLF001 - IPython's public outputs drop the update flag


def dry_body(shell: InteractiveShell, options: str, prompt: str = "Hello") -> dict[str, Any]:
    cell = run(shell, f"%%message --dry-run {options}\n{prompt}")
    text = cell.plain
    assert "Dry run: nothing was sent" in text, cell.markdown
    return json.loads(text.split("request body:\n", 1)[1])


class Recorder:
    """An observer that keeps every call record."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def before_request(self, params: Any) -> None:
        pass

    def record(self, record: Any) -> None:
        self.records.append(record)


# -- help and options


def test_help_documents_every_option(ip):
    cell = run(ip, "%message --help")
    assert run(ip, "%%message --help\nignored").stdout == cell.stdout
    # plain text, not the reST of IPython's docstring
    assert cell.stdout.startswith("%message [--model MODEL]") and "``" not in cell.stdout and "::" not in cell.stdout
    assert "`{name}`, `{name.attr}`" in cell.stdout
    for option in ("--model", "--system", "--max-tokens", "--temperature", "--top-p", "--top-k", "--stop",
                   "--thinking", "--effort", "--tools", "--tool-choice", "--schema", "--attach", "--cache",
                   "--provider", "--models", "--session-id", "--no-stream", "--raw", "--out", "--chat", "--new",
                   "--dry-run", "--profile", "--no-vars", "--retry", "--max-rounds"):
        assert option in cell.stdout, option
    assert cell.error is None


def test_dry_run_maps_every_request_option(ip, server, tmp_path):
    (tmp_path / "pic.png").write_bytes(PNG)
    ip.user_ns.update(persona="You are terse.", doc_path=str(tmp_path / "doc.pdf"), weather_tool={
        "name": "weather", "description": "Weather.", "input_schema": {"type": "object", "properties": {}}})
    (tmp_path / "doc.pdf").write_bytes(PDF)
    run(ip, "def add(a: int, b: int) -> int:\n    'Add two numbers.'\n    return a + b")
    run(ip, "from pydantic import BaseModel\nclass City(BaseModel):\n    name: str")
    served = server.requests_served
    body = dry_body(ip, f"-m claude-3-5-haiku -s persona --max-tokens 3000 -t 0.5 --top-p 0.9 --top-k 5 "
                        f"--stop END --stop STOP --effort low --tools add,weather_tool "
                        f"--tool-choice auto --schema City --attach {tmp_path / 'pic.png'} --attach doc_path --cache")
    assert server.requests_served == served  # nothing sent
    assert body["model"] == "claude-3-5-haiku" and body["system"] == "You are terse."
    assert body["max_tokens"] == 3000 and body["temperature"] == 0.5 and body["top_p"] == 0.9 and body["top_k"] == 5
    assert body["stop_sequences"] == ["END", "STOP"]
    assert body["output_config"]["effort"] == "low" and body["output_config"]["format"]["type"] == "json_schema"
    assert [t["name"] for t in body["tools"]] == ["add", "weather"] and body["tool_choice"] == {"type": "auto"}
    content = body["messages"][-1]["content"]
    assert [b["type"] for b in content] == ["image", "document", "text"]
    assert content[0]["source"]["media_type"] == "image/png"
    assert body["cache_control"] == {"type": "ephemeral"} and body["stream"] is True


def test_dry_run_openrouter_routing_and_literal_system(ip):
    run(ip, "def add(a: int, b: int) -> int:\n    'Add two numbers.'\n    return a + b")
    body = dry_body(ip, '--profile openrouter --provider anthropic,google --models a/b,c/d --session-id s1 '
                        '-s "Be brief" --tools add --tool-choice add --no-stream')
    assert body["provider"] == {"order": ["anthropic", "google"]} and body["models"] == ["a/b", "c/d"]
    assert body["session_id"] == "s1" and body["system"] == "Be brief" and "stream" not in body
    assert body["tool_choice"] == {"type": "tool", "name": "add"}


def test_thinking_options(ip):
    body = dry_body(ip, "--thinking 2048")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048, "display": "summarized"}
    assert body["max_tokens"] > 2048  # the default max_tokens leaves room for the answer
    body = dry_body(ip, "-m claude-3-7-sonnet-latest --thinking 1024")
    assert "display" not in body["thinking"]  # models that show full thinking take no display choice
    body = dry_body(ip, "--thinking adaptive")
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}


# -- sending and rendering


def test_cell_streams_live_and_shows_final_answer(ip):
    cell = run(ip, "%%message\nWhat does a $5 coffee cost in euros?")
    assert cell.error is None and cell.result is None
    first, final = cell.shown[0], cell.shown[-1]
    assert first == {"text/plain": ""}  # the live area, emptied at the end
    assert "You wrote:" in final["text/markdown"] and "claude-sonnet-4-5" in final["text/markdown"]
    assert "end_turn" in final["text/plain"] and "first token" in final["text/plain"]
    assert cell.updates[-1] == {"text/plain": ""}
    assert set(final) == {"text/markdown", "text/plain"}


def test_line_magic_prompt_is_rest_of_line(ip):
    cell = run(ip, "%message -m claude-haiku-4-5 What's up with {braces}?")
    assert "What's up with {braces}?" in cell.markdown and "claude-haiku-4-5" in cell.markdown
    assert "not defined: {braces}" in cell.stderr and cell.stderr.count("\n") == 1


def test_templating_fills_variables_and_no_vars_keeps_them(ip):
    ip.user_ns.update(city="Lisbon", data={"k": 7})
    cell = run(ip, "%%message --new\nTell me about {city} and {data[k]}; JSON {\"a\": {\"b\": 1}}")
    assert 'Tell me about Lisbon and 7; JSON {"a": {"b": 1}}' in cell.markdown
    cell = run(ip, "%%message --no-vars --new\nTell me about {city}")
    assert "Tell me about {city}" in cell.markdown and cell.stderr == ""


def test_line_magic_is_not_expanded_by_ipython(ip):
    ip.user_ns.update(city="Lisbon", cost=5)
    cell = run(ip, "%message --no-vars Keep {city} and $cost as written")
    assert "Keep {city} and $cost as written" in cell.markdown
    assert "Visit Lisbon" in run(ip, "%message Visit {city}").markdown


def test_no_stream_raw_and_out(ip):
    cell = run(ip, "%%message --no-stream --raw -o answer\nHi there")
    assert not [u for u in cell.updates if "You wrote" in u.get("text/markdown", "")]  # no streamed updates
    assert "Raw exchange" in cell.markdown and '"messages"' in cell.markdown and '"stop_reason"' in cell.markdown
    message = ip.user_ns["answer"]
    assert isinstance(message, nbmessages.Message) and "Hi there" in message.text
    assert '"stream"' not in cell.markdown
    streamed = run(ip, "%%message --raw\nHi again")
    assert '"stream": true' in streamed.markdown  # the body exactly as it was sent


def test_chats_across_cells_new_and_retry(ip, server):
    run(ip, "%%message --chat trip\nPlan a trip")
    run(ip, "%%message --chat trip\nAnd the budget?")
    session = nbmessages.notebook.magic.magics.session()
    assert len(session.chats["trip"]) == 4 and len(session.chat("default")) == 0
    served = server.requests_served
    cell = run(ip, "%message --retry --chat trip")
    assert server.requests_served == served + 1 and len(session.chats["trip"]) == 4
    assert "3 messages" in cell.markdown  # the retried request carried the history up to the last prompt
    run(ip, "%%message --chat trip --new\nStart over")
    assert len(session.chats["trip"]) == 2
    cell = run(ip, "%nbmessages chat trip")
    assert "chat `trip`" in cell.markdown and "Start over" in cell.markdown


def test_retry_without_history_is_a_clear_error(ip):
    cell = run(ip, "%message --retry --chat empty")
    assert "nothing to retry" in cell.markdown and cell.error is None


def test_default_chat_continues(ip):
    run(ip, "%message first")
    cell = run(ip, "%message second")
    assert "3 messages" in cell.markdown


def test_tools_loop_with_raising_tool(ip):
    run(ip, "def add(a: int, b: int) -> int:\n    'Add.'\n    return a + b\n"
            "def boom(x: str) -> str:\n    'Explode.'\n    raise RuntimeError('kaput')")
    cell = run(ip, "%%message --tools add,boom --new\nCall add and boom")
    assert cell.error is None
    md = cell.markdown
    assert "**🔧 tool call** `add`" in md and "**↩ tool result** from `add`" in md
    assert "**❌ tool error** from `boom`" in md and "RuntimeError: kaput" in md
    assert "end_turn" in md
    step_updates = [u for u in cell.updates if "tool result" in u.get("text/markdown", "")]
    assert step_updates  # each step was rendered as it happened
    chat = nbmessages.notebook.magic.magics.session().chat()
    assert len(chat) == 4  # prompt, tool call, tool results, answer


def test_tool_dict_without_function_stops_visibly(ip):
    ip.user_ns["lookup"] = {"name": "lookup", "description": "Look up.", "input_schema": {
        "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}
    cell = run(ip, "%%message --tools lookup --tool-choice lookup --new\nLook it up")
    assert "`tool_use`" in cell.markdown and "pass `--tools`" in cell.markdown


def test_schema_result_is_parsed_object(ip):
    run(ip, "from pydantic import BaseModel\nclass Movie(BaseModel):\n    title: str\n    year: int")
    cell = run(ip, "%%message --schema Movie -o movie --new\nA classic movie")
    movie_cls = ip.user_ns["Movie"]
    assert isinstance(cell.result, movie_cls) and isinstance(ip.user_ns["movie"], movie_cls)
    assert ip.user_ns["_"] is cell.result


def test_attach_image_and_pdf(ip, tmp_path):
    (tmp_path / "dot.png").write_bytes(PNG)
    ip.user_ns["pdf_bytes"] = PDF
    cell = run(ip, f"%%message --attach {tmp_path / 'dot.png'} --attach pdf_bytes --new\nDescribe these")
    assert cell.error is None and "Describe these" in cell.markdown and "⚠" not in cell.markdown


def test_missing_attachment_and_unknown_option_are_error_boxes(ip):
    cell = run(ip, "%%message --attach /no/such.png\nhi")
    assert "> **⚠ FileNotFoundError**" in cell.markdown and cell.error is None
    cell = run(ip, "%%message --bogus\nhi")
    assert "Wrong use of the magic" in cell.markdown and "--bogus" in cell.markdown
    cell = run(ip, "%message")
    assert "prompt is empty" in cell.markdown


def test_profile_local_option(ip, monkeypatch):
    cell = run(ip, "%message --profile local Hi")
    assert "local" in cell.plain and "end_turn" in cell.plain


def test_thinking_rendered_collapsible(ip):
    cell = run(ip, "%%message --thinking 1024 --new\nThink first")
    assert "><summary>💭 Thinking</summary>" in cell.markdown and "[thinking]" in cell.plain


# -- stop reasons


def test_max_tokens_says_the_answer_was_cut(ip):
    cell = run(ip, "%%message --max-tokens 5 --new\nWrite a long story")
    assert "The answer was cut" in cell.markdown and "max_tokens (5 tokens)" in cell.markdown


def test_stop_sequence_names_the_sequence(ip):
    cell = run(ip, "%%message --stop offline --new\nHello")
    assert "Stopped at the stop sequence `offline`" in cell.markdown


def _pinned(events: list[dict[str, Any]], status: int = 200) -> nbmessages.Client:
    body = sse(events) if status == 200 else json.dumps(events).encode()
    transport = mock_transport(body, status, {} if status == 200 else {"content-type": "application/json"})
    return nbmessages.Client(base_url="http://mock.test", http_client=httpx.Client(transport=transport),
                             ledger=False, max_retries=0)


def test_refusal_shows_stop_details(ip):
    events = message_events([{"type": "text", "text": "I can't"}], stop_reason="refusal")
    events[-2]["delta"]["stop_details"] = {"type": "refusal", "category": "cyber", "explanation": "Not that."}
    nbmessages.notebook.magic.magics.session().use_client(_pinned(events))
    cell = run(ip, "%message --new Do something bad")
    assert "declined to answer" in cell.markdown and "cyber" in cell.markdown and "Not that." in cell.markdown


def test_pause_turn_continues_automatically(ip):
    replies = [message_events([{"type": "text", "text": "part one"}], stop_reason="pause_turn"),
               message_events([{"type": "text", "text": "part two"}])]
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=sse(replies[len(seen) - 1]), headers={"content-type": "text/event-stream"})

    client = nbmessages.Client(base_url="http://mock.test", ledger=False,
                               http_client=httpx.Client(transport=httpx.MockTransport(answer)))
    nbmessages.notebook.magic.magics.session().use_client(client)
    cell = run(ip, "%message --new Search a lot")
    assert len(seen) == 2 and seen[1]["messages"][-1]["role"] == "assistant"
    assert "part one" in cell.markdown and "part two" in cell.markdown and "continued automatically 1×" in cell.markdown


# -- errors


@pytest.mark.parametrize(("fault", "title"), [("rate_limit", "Rate limited"), ("overloaded", "The API is overloaded")])
def test_api_errors_are_shown_in_a_box(ip, fault, title):
    run(ip, "%nbmessages retries 0")
    run(ip, f"%nbmessages header x-nbmessages-fault {fault}")
    cell = run(ip, "%message --new Hello")
    assert cell.error is None and f"**⚠ {title}" in cell.markdown
    assert "Traceback" not in cell.stdout + cell.stderr + cell.markdown


def test_mid_stream_error_keeps_the_partial_answer(ip):
    run(ip, "%nbmessages retries 0")
    run(ip, "%nbmessages header x-nbmessages-fault error_event")
    cell = run(ip, "%message --new Hello there, a longer prompt to stream")
    assert "⚠ The server reported an error mid-stream" in cell.markdown and "This is the" in cell.markdown


def test_validation_error_is_shown_before_sending(ip, server):
    served = server.requests_served
    cell = run(ip, "%message -t 2 --new Hello")
    assert "Invalid request (not sent)" in cell.markdown and "temperature" in cell.markdown
    assert server.requests_served == served


def test_budget_refuses_calls_past_the_limit(ip):
    run(ip, "%nbmessages budget 0.016")  # room for one call's worst case (1024 tokens out at $15/M), not two
    first = run(ip, "%message --new Hello")
    assert "⚠" not in first.markdown
    second = run(ip, "%message Hello again")
    assert "Budget exceeded" in second.markdown
    assert "client.budget.reset()" in second.markdown and "`%nbmessages budget N` sets a new limit" in second.markdown
    status = run(ip, "%nbmessages")
    assert "$0.02 (spent $0.0" in status.plain
    assert "<span>&#36;</span>0.02 (spent <span>&#36;</span>0.0" in status.markdown  # money, not TeX


def test_a_calls_other_profile_shares_the_session_budget_and_headers(server):
    from nbmessages.notebook.magic.session import Session

    s = Session(base_url=server.base_url, budget=5.0, headers={"x-team": "a"})
    main = s.client()
    other = s.client("openrouter")  # derived from the session's client with copy()
    assert other.profile.name == "openrouter" and other.base_url != main.base_url
    assert other.budget is main.budget and other.default_headers == {"x-team": "a"}
    assert other.tags == {"source": "magic"} and s.client("openrouter") is other
    s.set_budget(7.0)
    assert main.budget.limit == 7.0 and s.budget_status() == "$7.00 (spent $0.0000)"



# -- interrupt


def test_interrupt_stops_the_stream_and_keeps_the_partial_answer(ip, slow_server):
    run(ip, f"%nbmessages base_url {slow_server.base_url}")
    recorder = Recorder()
    nbmessages.notebook.magic.magics.session().client().observers.append(recorder)
    main = threading.main_thread().ident
    fired: list[bool] = []

    def interrupt() -> None:
        fired.append(True)
        signal.pthread_kill(main, signal.SIGINT)  # what the kernel's interrupt does

    timer = threading.Timer(0.6, interrupt)
    timer.start()
    cell = run(ip, "%%message --new\n" + "Tell me everything about streams. " * 20)
    timer.join()
    assert fired  # how fast the cell returns is measured by benchmarks/bench_responsiveness.py
    assert cell.error is None
    assert "**Interrupted**" in cell.markdown and "This is the" in cell.markdown
    assert "interrupted" in cell.plain
    assert [r.outcome for r in recorder.records] == ["interrupted"]
    assert len(nbmessages.notebook.magic.magics.session().chat()) == 0  # a cut answer does not join the conversation


# -- %nbmessages


def test_settings_status_keys_models(ip, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-canary-123")
    assert "model: claude-haiku-4-5" in run(ip, "%nbmessages model claude-haiku-4-5").stdout
    run(ip, "%nbmessages max_tokens 512")
    cell = run(ip, "%nbmessages")
    assert "claude-haiku-4-5" in cell.markdown and "512" in cell.markdown
    assert "OPENROUTER_API_KEY set" in cell.markdown and "canary" not in cell.markdown + cell.plain
    keys = run(ip, "%nbmessages keys")
    assert "| OPENROUTER_API_KEY | set |" in keys.markdown
    models = run(ip, "%nbmessages models")
    assert "claude-" in models.markdown
    assert "max_tokens=512" in run(ip, "%message Hi").markdown
    assert "unknown command" in run(ip, "%nbmessages frobnicate").markdown
    assert "%nbmessages budget" in run(ip, "%nbmessages help").stdout


def test_rich_display_of_message_usage_and_blocks(ip):
    run(ip, "%message -o m --new Hi")
    message = ip.user_ns["m"]
    data, _ = ip.display_formatter.format(message)
    assert "You wrote" in data["text/markdown"] and "You wrote" in data["text/plain"]
    data, _ = ip.display_formatter.format(message.usage)
    assert "| input |" in data["text/markdown"] and data["text/plain"].startswith("Usage(in ")
    data, _ = ip.display_formatter.format(message.content[0])
    assert "You wrote" in data["text/markdown"]
    data, _ = ip.display_formatter.format(nbmessages.notebook.magic.magics.session().chat())
    assert "chat `default`" in data["text/markdown"]


def test_register_if_running(ip):
    from nbmessages.notebook.formatters import register_if_running

    register_if_running()  # idempotent; the shell is running, so Messages render as Markdown
    message = nbmessages.Message.model_validate({"content": [{"type": "text", "text": "hi $5 or $7"}]})
    assert "hi <span>&#36;</span>5 or" in ip.display_formatter.format(message)[0]["text/markdown"]


# -- OpenRouter on the embedded server's /api/v1


def test_openrouter_cache_credits_and_metadata(ip, server):
    run(ip, f"%nbmessages base_url {server.base_url}/api")
    run(ip, "%nbmessages model anthropic/claude-haiku-4.5")
    first = run(ip, "%message --new --openrouter-cache 120 What is cached")
    assert "response cache HIT" not in first.markdown
    again = run(ip, "%message --new --openrouter-cache 120 What is cached")
    assert "response cache HIT (free)" in again.markdown and "$0.0000" in again.markdown
    assert "--openrouter-cache" in run(ip, "%message --help").stdout
    assert "TTL in seconds" in run(ip, "%message --openrouter-cache forever Hi").markdown
    credits = run(ip, "%nbmessages credits")
    assert "| limit | no limit |" in credits.markdown and "| used | <span>&#36;</span>0.0" in credits.markdown
    assert re.search(r"used +\$0\.0\d+", credits.shown[-1]["text/plain"])  # money, to four decimals
    assert "router_metadata: on" in run(ip, "%nbmessages router_metadata on").stdout
    routed = run(ip, "%message --new Who served this")
    assert "<details><summary>Routing: served by Anthropic" in routed.markdown


def test_an_availability_error_box_offers_fallback_models(ip, server):
    run(ip, f"%nbmessages base_url {server.base_url}/api")
    run(ip, "%nbmessages header x-nbmessages-fault unavailable;code=model_deprecated;fallback=anthropic/claude-haiku-4.5")
    cell = run(ip, "%message --new Hello")
    assert "availability: `model_deprecated` (not retryable)" in cell.markdown
    assert "`--models anthropic/claude-haiku-4.5`" in cell.markdown


def test_credits_on_a_profile_without_them_is_a_clear_error(ip):
    cell = run(ip, "%nbmessages credits")
    assert "has no such endpoint" in cell.markdown and "Traceback" not in cell.stdout + cell.stderr


# -- %%message --map: one call per row of a DataFrame (nbmessages.map)
def test_map_cell_sends_one_call_per_row_and_stores_the_frame(ip, server):
    ip.user_ns["df"] = pd.DataFrame({"review": ["Loved it", "Hated it"]}, index=["a", "b"])
    served = server.requests_served
    cell = run(ip, "%%message --map df -o results -m claude-haiku-4-5 --max-tokens 60\nClassify: {review}")
    assert cell.error is None and cell.result is None
    results = ip.user_ns["results"]
    assert list(results.index) == ["a", "b"] and set(results["status"]) == {"ok"}
    assert "Classify: Hated it" in results.loc["b", "text"]
    assert server.requests_served - served == 2
    assert "2 done · 0 failed" in cell.plain  # the final progress line is kept as an output
    assert cell.outputs[0]["update"] is False and any(o["update"] for o in cell.outputs)  # one live handle


def test_map_cell_returns_the_frame_without_out_and_previews_with_dry_run(ip, server):
    ip.user_ns["df"] = pd.DataFrame({"q": ["one", "two", "one"]})
    served = server.requests_served
    preview = run(ip, "%%message --map df --dry-run\nAnswer {q}")
    assert server.requests_served - served == 2  # count_tokens for the 2 unique requests; no answer asked
    assert preview.result.rows == 3 and preview.result.unique == 2
    cell = run(ip, "%%message --map df --concurrency 2\nAnswer {q}")
    assert list(cell.result["status"]) == ["ok", "ok", "cached"]


def test_map_cell_errors_are_shown_not_raised(ip):
    cell = run(ip, "%%message --map nowhere\nAnswer {q}")
    assert cell.error is None and "no variable named 'nowhere'" in cell.markdown
    ip.user_ns["df"] = pd.DataFrame({"q": ["x"]})
    cell = run(ip, "%%message --map df\nAnswer {missing}")
    assert "{missing} names no column" in cell.markdown


def test_openrouter_header_flags_come_from_the_settings_table(ip, server):
    run(ip, f"%nbmessages base_url {server.base_url}/api")
    run(ip, "%nbmessages model anthropic/claude-haiku-4.5")
    routed = run(ip, "%message --new --openrouter-metadata Who served")
    assert "<details><summary>Routing: served by Anthropic" in routed.markdown
    run(ip, "%message --new --openrouter-cache on Same again")
    cleared = run(ip, "%message --new --openrouter-cache on --openrouter-cache-clear Same again")
    assert "response cache HIT" not in cleared.markdown  # cleared: asked afresh
    assert "response cache HIT" in run(ip, "%message --new --openrouter-cache on Same again").markdown
    assert "--openrouter-cache: '5x': give on, off" in run(ip, "%message --openrouter-cache 5x Hi").markdown
    assert "openrouter_cache: 300" in run(ip, "%nbmessages openrouter_cache 300").stdout
