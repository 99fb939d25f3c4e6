"""The client over real loopback HTTP against the embedded server: calls, errors, retries, faults, records."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

import nbmessages
from nbmessages import AsyncClient, Client
from nbmessages.client import errors
from nbmessages.ledger.store import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "usage.sqlite")


def client(server, ledger=False, fault: str | None = None, **kw) -> Client:
    headers = {"x-nbmessages-fault": fault} if fault else None
    return Client(base_url=server.base_url, ledger=ledger, default_headers=headers, **kw)


def ask(c: Client, prompt: str = "Hello there", **kw):
    return c.messages.create(model="claude-sonnet-4-5", max_tokens=400, messages=prompt, **kw)


def test_create_stream_and_count_tokens_agree(server):
    c = client(server)
    message = ask(c, "What is a {braced} prompt?")
    assert message.model == "claude-sonnet-4-5" and "What is a {braced} prompt?" in message.text
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
    with c.messages.stream(model="claude-sonnet-4-5", max_tokens=400, messages="What is a {braced} prompt?") as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert "".join(pieces) == final.text == message.text
    assert s.ttft is not None and s.request_id
    count = c.messages.count_tokens(model="claude-sonnet-4-5", messages="What is a {braced} prompt?")
    assert count.input_tokens == message.usage.input_tokens
    assert {m.id for m in c.models.list()} >= {"claude-sonnet-4-6"}


def test_tool_round_trip(server):
    def get_weather(city: str, unit: str = "c") -> str:
        """Current weather in a city."""
        return f"18 degrees {unit} in {city}"

    c = client(server)
    req = nbmessages.Request(model="claude-sonnet-4-5", max_tokens=400, messages="Call get_weather for Paris",
                             tools=[get_weather])
    first = c.messages.create(req)
    assert first.stop_reason == "tool_use"
    use = first.tool_uses[0]
    assert use.name == "get_weather" and isinstance(use.input["city"], str)
    result = req.functions["get_weather"](**use.input)
    follow = req.followed_by(first, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": use.id, "content": result}]})
    second = c.messages.create(follow)
    assert second.stop_reason == "end_turn" and result in second.text


def test_thinking_and_structured_output(server):
    class City(BaseModel):
        name: str
        population: int

    c = client(server)
    message = c.messages.create(model="m", max_tokens=3000, messages="Think first",
                                thinking={"type": "enabled", "budget_tokens": 1024})
    assert message.content[0].type == "thinking" and message.content[0].signature
    with c.messages.stream(model="m", max_tokens=500, messages="A city", output_format=City) as s:
        parsed = s.get_final_message().parsed_output
    assert isinstance(parsed, City)
    assert isinstance(ask(c, "A city", output_format=City).parsed_output, City)


def test_async_client_inside_a_running_loop(server):
    async def main():
        async with AsyncClient(base_url=server.base_url, ledger=False) as c:
            one = await c.messages.create(model="m", max_tokens=300, messages="async hello")
            texts = []
            async with c.messages.stream(model="m", max_tokens=300, messages="async stream") as s:
                async for text in s.text_stream:
                    texts.append(text)
            many = await asyncio.gather(*[c.messages.create(model=f"m{i}", max_tokens=50, messages="x")
                                          for i in range(5)])
            count = await c.messages.count_tokens(model="m", messages="async hello")
            # the sync client works from inside a running loop too (no asyncio.run, no nesting)
            sync = client(server).messages.create(model="m", max_tokens=50, messages="sync inside loop")
            return one, "".join(texts), many, count, sync

    one, text, many, count, sync = asyncio.run(main())
    assert "async hello" in one.text and "async stream" in text
    assert [m.model for m in many] == [f"m{i}" for i in range(5)]
    assert count.input_tokens == one.usage.input_tokens and sync.text


@pytest.mark.parametrize(("fault", "cls"), [
    ("rate_limit;retry_after=0", errors.RateLimitError), ("overloaded", errors.OverloadedError),
    ("server_error", errors.InternalServerError), ("bad_gateway", errors.BadGatewayError),
])
def test_http_faults_raise_typed_errors_after_retries(server, fault, cls, ledger):
    c = client(server, ledger=ledger, fault=fault, max_retries=1)
    with pytest.raises(cls) as info:
        ask(c, f"fault {fault}")
    assert info.value.request_id and info.value.status_code == cls.status_code
    rows = ledger.rows()
    assert len(rows) == 1 and rows[0]["outcome"] == cls.error_type and rows[0]["retries"] == 1


def test_retries_recover_and_are_counted(server, ledger):
    c = client(server, ledger=ledger, fault="server_error;times=2;retry_after=0")
    message = ask(c, "retry me please")
    assert "retry me please" in message.text
    rows = ledger.rows()
    assert len(rows) == 1 and rows[0]["outcome"] == "ok" and rows[0]["retries"] == 2


def test_rate_limit_retry_after_is_honoured(server):
    c = client(server, fault="rate_limit;times=1;retry_after=0.3")
    t0 = time.perf_counter()
    ask(c, "slow down")
    assert time.perf_counter() - t0 >= 0.25


@pytest.mark.parametrize(("fault", "cls", "outcome"), [
    ("error_event", errors.StreamEventError, "overloaded_error"),
    ("malformed", errors.MalformedStreamError, "malformed_stream"),
    ("disconnect", errors.IncompleteStreamError, "incomplete_stream"),
])
def test_broken_streams_keep_the_partial_answer_and_are_recorded(server, ledger, fault, cls, outcome):
    c = client(server, ledger=ledger, fault=fault)
    with pytest.raises(cls) as info:
        with c.messages.stream(model="m", max_tokens=500, messages="a long answer please " * 5) as s:
            s.get_final_message()
    partial = info.value.partial_message
    assert partial is not None and partial.text and partial.model == "m"
    rows = ledger.rows()
    assert len(rows) == 1 and rows[0]["outcome"] == outcome and rows[0]["streamed"]
    # the output received was counted by the client (no final usage came), not left at message_start's 1
    assert partial.usage.output_tokens > 1 and rows[0]["output_tokens"] == partial.usage.output_tokens
    assert rows[0]["output_counted"] == 1


def test_stalled_stream_times_out_with_partial(server, ledger):
    c = client(server, ledger=ledger, fault="stall", timeout=httpx.Timeout(1.0, connect=2.0), max_retries=0)
    with pytest.raises(errors.IncompleteStreamError) as info:
        with c.messages.stream(model="m", max_tokens=500, messages="stall here") as s:
            s.get_final_message()
    assert info.value.error_type == "timeout" and info.value.partial_message.text


def test_interrupted_stream_is_recorded_with_its_partial_usage(server, ledger):
    c = client(server, ledger=ledger)
    with c.messages.stream(model="claude-sonnet-4-5", max_tokens=500, messages="interrupt me " * 20) as s:
        for _ in s.text_stream:
            break
    rows = ledger.rows()
    assert len(rows) == 1 and rows[0]["outcome"] == "interrupted" and rows[0]["input_tokens"] > 0
    assert rows[0]["output_tokens"] > 1 and rows[0]["output_counted"] == 1  # priced with its output too
    input_only = rows[0]["input_tokens"] * 3e-6  # claude-sonnet-4-5: $3 per million input tokens
    assert rows[0]["cost_usd"] > input_only


def test_server_validation_errors_are_bad_requests(server):
    c = client(server)
    with pytest.raises(errors.BadRequestError, match="temprature"):
        c.messages.create(model="m", max_tokens=5, messages="x", extra_body={"temprature": 1})


def test_authentication_with_a_keyed_server():
    with nbmessages.local.start(pace=0, ttft=0, key="sk-ant-right-key-0000000000") as srv:
        with pytest.raises(errors.AuthenticationError):
            Client(base_url=srv.base_url, api_key="sk-ant-wrong", ledger=False).messages.create(
                model="m", max_tokens=5, messages="x")
        ok = Client(base_url=srv.base_url, api_key="sk-ant-right-key-0000000000", ledger=False)
        assert ok.messages.create(model="m", max_tokens=50, messages="x").text
        router = Client(base_url=srv.base_url + "/api", api_key="sk-ant-right-key-0000000000", ledger=False)
        assert router.profile.name == "openrouter"
        assert router.messages.create(model="anthropic/claude-sonnet-4.5", max_tokens=50, messages="x").provider


def test_openrouter_path_reports_provider_and_cost(server, ledger):
    c = Client(base_url=server.base_url + "/api", api_key="sk-or-test", ledger=ledger)
    message = c.messages.create(model="anthropic/claude-sonnet-4.5", max_tokens=100, messages="price me",
                                session_id="sess-1", provider={"order": ["anthropic"]})
    assert message.provider and message.usage.cost is not None
    row = ledger.rows()[0]
    assert row["cost_source"] == "provider" and row["session_id"] == "sess-1"


def test_no_configuration_uses_the_embedded_server_and_says_so_once(tmp_path: Path):
    code = (
        "import nbmessages\n"
        "for _ in range(2):\n"
        "    c = nbmessages.Client(ledger=False)\n"
        "    assert c.uses_embedded_server and c.profile.name == 'local'\n"
        "    print(c.messages.create(model='claude-sonnet-4-5', max_tokens=50, messages='offline?').model)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["claude-sonnet-4-5"] * 2
    assert done.stderr.count("embedded offline server") == 1


def test_concurrent_sync_streams_from_threads(server):
    c = client(server)
    texts: list[str] = []

    def run(i: int) -> None:
        with c.messages.stream(model="m", max_tokens=200, messages=f"thread {i}") as s:
            texts.append(s.get_final_text())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(texts) == 8 and all(f"thread {i}" in "".join(texts) for i in range(8))


def test_record_then_replay_byte_for_byte(server, tmp_path: Path):
    cassette = tmp_path / "calls.json"
    recorder = Client(base_url=server.base_url, api_key="sk-ant-canary-recorded-secret-123456", ledger=False,
                      record=cassette)
    live = ask(recorder, "record this exchange")
    with recorder.messages.stream(model="claude-sonnet-4-5", max_tokens=400, messages="and this stream") as s:
        live_stream = s.get_final_message()
    saved = cassette.read_text()
    assert "canary" not in saved and len(json.loads(saved)) == 2
    replayer = Client(replay=cassette, ledger=False)
    assert ask(replayer, "record this exchange") == live
    with replayer.messages.stream(model="claude-sonnet-4-5", max_tokens=400, messages="and this stream") as s:
        assert s.get_final_message() == live_stream
    with pytest.raises(errors.APIStatusError, match="no recorded interaction"):
        ask(replayer, "never recorded")


def test_budget_refuses_past_the_limit_and_can_be_raised(server, ledger):
    from nbmessages.ledger.budget import BudgetExceededError

    # room for the first call's worst case (130 tokens out at $15/M plus the input), which spends over 80 %
    c = Client(base_url=server.base_url + "/api", api_key="sk-or-test", ledger=ledger, budget=0.0025)
    with pytest.warns(UserWarning):
        c.messages.create(model="anthropic/claude-sonnet-4.5", max_tokens=130, messages="spend " * 50)
    with pytest.raises(BudgetExceededError, match="budget"):
        c.messages.create(model="anthropic/claude-sonnet-4.5", max_tokens=300, messages="more")
    c.budget.limit = 10
    assert c.messages.create(model="anthropic/claude-sonnet-4.5", max_tokens=50, messages="more").text


def test_openrouter_only_fields_are_not_sent_to_the_local_v1(server):
    c = client(server)
    with pytest.warns(UserWarning, match="OpenRouter-only"):
        message = c.messages.create(model="m", max_tokens=100, messages="route me", session_id="s",
                                    provider={"order": ["anthropic"]}, models=["a/b"])
    assert message.text


def test_bad_requests_are_refused_before_anything_is_sent_and_the_server_agrees(server, http):
    c = client(server)
    bad = [{"role": "user", "content": [{"type": "txt", "text": "hi"}]}]
    served = server.requests_served
    with pytest.raises(nbmessages.RequestValidationError, match="did you mean 'text'") as info:
        c.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=bad)
    assert server.requests_served == served
    answer = http.post("/v1/messages", json={"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": bad})
    assert answer.status_code == 400 and info.value.problems[0][1] in answer.json()["error"]["message"]


# -- deriving clients: copy() / with_options() / from_client()


def _rich(server, ledger, **kw) -> Client:
    return Client(base_url=server.base_url + "/api", api_key="sk-or-copy-test", ledger=ledger, budget=0.006,
                  anthropic_version="2026-10-21", default_headers={"x-team": "a"}, max_retries=1, timeout=7.0,
                  tags={"team": "a"}, log_content=True, deadline=30.0, **kw)


def _spend(c: Client, prompt: str = "spend " * 50):
    return c.messages.create(model="anthropic/claude-sonnet-4.5", max_tokens=300, messages=prompt)


def test_copy_keeps_every_setting_and_shares_budget_ledger_and_observers(server, ledger):
    from nbmessages.ledger.budget import BudgetExceededError

    seen: list[str] = []

    class Spy:
        def before_request(self, params):
            seen.append(params.model)

        def record(self, record):
            seen.append(record.outcome)

    c = _rich(server, ledger, observers=[Spy()])
    d = c.copy(max_retries=0)
    assert c.with_options(max_retries=0).max_retries == 0 and type(d) is Client
    assert d.api_key.get_secret_value() == "sk-or-copy-test" and d.base_url == c.base_url
    assert d.profile is c.profile and d.anthropic_version == "2026-10-21" and d.default_headers == {"x-team": "a"}
    assert d.timeout == c.timeout and d.tags == {"team": "a"} and (d.max_retries, c.max_retries) == (0, 1)
    assert d.deadline == c.deadline == 30.0
    assert d.budget is c.budget and d.observers == c.observers
    _spend(d)  # spent through the copy (its worst case fitted the limit; the next one does not) ...
    with pytest.raises(BudgetExceededError):
        _spend(c)  # ... counts for the original
    assert seen[:2] == ["anthropic/claude-sonnet-4.5", "ok"]
    rows = ledger.rows()  # the refused call never started: one row, with the original's tags and content logging
    assert len(rows) == 1 and json.loads(rows[0]["tags"]) == {"team": "a"} and rows[0]["content"]


def test_copy_overrides_rebuild_only_what_they_change(server, ledger, tmp_path: Path):
    c = _rich(server, ledger)
    tagged = c.copy(tags={"team": "b"})
    assert tagged.budget is c.budget and tagged.tags == {"team": "b"}
    c.budget.limit = 10
    _spend(tagged, "tagged")
    assert json.loads(ledger.rows()[-1]["tags"]) == {"team": "b"}
    other = Ledger(tmp_path / "other.sqlite")
    moved = c.copy(ledger=other, budget=None)
    assert moved.budget is None
    _spend(moved, "elsewhere")
    assert len(other.rows()) == 1 and len(ledger.rows()) == 1
    local = c.copy(base_url=server.base_url, api_key=None, profile=None, anthropic_version="2023-06-01")
    assert local.profile.name != "openrouter" and local.anthropic_version == "2023-06-01"
    with pytest.raises(ValueError, match="anthropic_version"):
        c.copy(anthropic_version="1999-01-01")


def test_copies_across_flavours_share_budget_and_ledger(server, ledger):
    from nbmessages.ledger.budget import BudgetExceededError

    c = _rich(server, ledger)
    a = AsyncClient.from_client(c)
    assert type(a) is AsyncClient and a.budget is c.budget and a.observers == c.observers
    assert a.anthropic_version == "2026-10-21" and a.api_key.get_secret_value() == "sk-or-copy-test"
    back = Client.from_client(a.copy(max_retries=0))
    assert type(back) is Client and back.budget is c.budget and back.max_retries == 0

    async def spend() -> str:
        async with a:
            m = await a.messages.create(model="anthropic/claude-sonnet-4.5", max_tokens=300,
                                        messages="spend " * 50)
            return m.text

    assert asyncio.run(spend())
    assert len(ledger.rows()) == 1
    with pytest.raises(BudgetExceededError):
        _spend(back)


def test_copies_record_into_the_same_cassette(server, tmp_path: Path):
    cassette = tmp_path / "calls.json"
    recorder = Client(base_url=server.base_url, ledger=False, record=cassette)
    ask(recorder, "first")
    ask(recorder.copy(), "second")
    third = ask(recorder, "third")
    assert len(json.loads(cassette.read_text())) == 3
    replayer = Client(replay=cassette, ledger=False).copy(max_retries=0)  # a copy replays from the same cassette
    assert ask(replayer, "third") == third


def test_bodies_the_server_would_refuse_are_refused_before_sending(server, ledger):
    c = client(server, ledger=ledger)
    deep: dict = {"type": "string"}
    for _ in range(150):
        deep = {"type": "object", "properties": {"a": deep}}
    served = server.requests_served
    with pytest.raises(nbmessages.RequestValidationError, match=r"messages\[0\]\.content: holds a lone surrogate"):
        c.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages="caf\ud800e")
    with pytest.raises(nbmessages.RequestValidationError, match=r"tools\[0\]\.input_schema.* nested more than 200"):
        c.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages="hi",
                          tools=[{"name": "f", "input_schema": deep}])
    assert server.requests_served == served and ledger.rows() == []


def test_a_request_changed_after_it_was_checked_is_refused_before_sending(server, ledger):
    c = client(server, ledger=ledger)
    req = nbmessages.Request(model="claude-sonnet-4-5", max_tokens=5, messages="fine")
    req.messages[0].content = "caf\ud800e"  # pydantic does not check assignments
    served = server.requests_served
    with pytest.raises(nbmessages.RequestValidationError, match=r"messages\[0\]\.content: holds a lone surrogate"):
        c.messages.create(req)
    deep: list = ["x"]
    for _ in range(250):  # deeper than the API takes, though json.dumps would still write it
        deep = [deep]
    req.messages[0].content = "fine"
    req.extra_body = {"deep": deep}
    with pytest.raises(nbmessages.RequestValidationError, match=r"nested more than 200"):
        c.messages.create(req)
    assert server.requests_served == served and ledger.rows() == []


def test_headers_follow_the_clients_settings_as_they_change(server):
    seen: list[httpx.Headers] = []
    c = client(server, http_client=httpx.Client(event_hooks={"request": [lambda r: seen.append(r.headers)]}))
    ask(c)
    c.default_headers["x-team"] = "blue"  # the dict is the client's own: a change applies to the next call
    ask(c)
    ask(c, stream=False)
    c.default_headers.pop("x-team")
    ask(c)
    assert [h.get("x-team") for h in seen] == [None, "blue", "blue", None]
    assert all(h["anthropic-version"] and h["content-type"] == "application/json" for h in seen)


def test_a_call_cut_off_by_cancellation_is_recorded_as_interrupted(slow_server):
    import asyncio

    from nbmessages.client.asynchronous import AsyncClient

    seen = []

    class Keep:
        def before_request(self, params):
            pass

        def record(self, record):
            seen.append(record.outcome)

    async def scenario():
        async with AsyncClient(base_url=slow_server.base_url, ledger=False, observers=[Keep()]) as c:
            task = asyncio.ensure_future(c.messages.create(model="claude-sonnet-4-5", max_tokens=200, messages="hi"))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
    assert seen == ["interrupted"]
