"""The tool loop: runs functions (sync and async), errors become is_error results, pause_turn, the guard."""

from __future__ import annotations

import asyncio

import pytest

import nbmessages
import nbmessages.local
from nbmessages.notebook.turns import run_loop, run_tools, tool_result_content
from nbmessages.types import Message


@pytest.fixture(scope="module")
def client():
    with nbmessages.local.start(pace=0, ttft=0) as server:
        with nbmessages.Client(base_url=server.base_url, ledger=False) as c:
            yield c


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def slow_double(x: int) -> int:
    """Double a number, asynchronously."""
    await asyncio.sleep(0)
    return 2 * x


def broken(text: str) -> str:
    """Always fails."""
    raise RuntimeError("the tool broke")


def request(prompt: str, *tools) -> nbmessages.Request:
    return nbmessages.Request(model="claude-sonnet-4-5", max_tokens=1024, messages=prompt, tools=list(tools))


def test_loop_runs_tool_and_continues_to_end_turn(client):
    steps = []
    result = run_loop(client, request("please add", add), on_step=steps.append)
    assert [s.kind for s in steps] == ["assistant", "tool_results", "assistant"]
    assert steps[1].results[0]["type"] == "tool_result" and not steps[1].results[0].get("is_error")
    assert result.final.stop_reason == "end_turn" and "returned" in result.final.text
    assert len(result.requests) == 2 and not result.guard_hit
    assert [t["role"] if isinstance(t, dict) else "assistant" for t in result.turns] == ["assistant", "user",
                                                                                          "assistant"]


def test_async_tool(client):
    result = run_loop(client, request("slow_double it", slow_double))
    content = result.steps[1].results[0]["content"]
    assert content.isdigit() and "returned" in result.final.text


def test_async_tool_inside_running_loop(client):
    async def main():
        return run_loop(client, request("slow_double it", slow_double))

    result = asyncio.run(main())  # like a Jupyter kernel, whose thread already runs a loop
    assert result.steps[1].results[0]["content"].isdigit()


def test_raising_tool_becomes_is_error_result(client):
    result = run_loop(client, request("call broken", broken))
    block = result.steps[1].results[0]
    assert block["is_error"] is True and block["content"] == "RuntimeError: the tool broke"
    assert "reported an error" in result.final.text


def test_unknown_tool_and_bad_arguments_are_errors():
    message = Message.model_validate({"stop_reason": "tool_use", "content": [
        {"type": "tool_use", "id": "t1", "name": "missing", "input": {}},
        {"type": "tool_use", "id": "t2", "name": "add", "input": {"a": 1}}]})
    results = run_tools(message, {"add": add})
    assert all(r["is_error"] for r in results)
    assert "no Python function" in results[0]["content"] and "TypeError" in results[1]["content"]


def test_iteration_guard():
    calls = []

    def send(req):
        calls.append(req)
        return Message.model_validate({"stop_reason": "tool_use", "content": [
            {"type": "tool_use", "id": f"t{len(calls)}", "name": "add", "input": {"a": 1, "b": 2}}]})

    result = run_loop(None, request("loop forever", add), send=send, max_iterations=3)
    assert len(calls) == 3 and result.guard_hit and "iteration guard" in result.notes()[0]


def test_pause_turn_is_continued_with_the_paused_message():
    replies = iter([
        Message.model_validate({"stop_reason": "pause_turn", "content": [{"type": "text", "text": "part"}]}),
        Message.model_validate({"stop_reason": "end_turn", "content": [{"type": "text", "text": "done"}]}),
    ])
    sent = []

    def send(req):
        sent.append(req)
        return next(replies)

    result = run_loop(None, request("research"), send=send)
    assert len(sent) == 2 and sent[1].messages[-1].role == "assistant"
    assert result.pauses == 1 and result.final.text == "done" and "continued automatically 1×" in result.notes()[0]


def test_results_are_json():
    assert tool_result_content("text") == "text"
    assert tool_result_content({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert tool_result_content(None) == "null"


# -- one runner: async with an AsyncClient, the same coroutine driven in this thread for a Client


@pytest.fixture(scope="module")
def base_url():
    with nbmessages.local.start(pace=0, ttft=0) as server:
        yield server.base_url


def test_async_turn_streams_runs_sync_and_async_tools_and_reports_each_step(base_url):
    import threading

    from nbmessages.notebook.turns import Turn, run_turn

    threads = []

    def add_here(a: int, b: int) -> int:
        """Add two numbers."""
        threads.append(threading.get_ident())
        return a + b

    async def main():
        events, steps = [], []
        async with nbmessages.AsyncClient(base_url=base_url, ledger=False) as c:
            turn = Turn(c, request("please add_here", add_here), stream=True, on_event=events.append,
                        on_step=steps.append)
            result = await turn.run()
            plain = await run_turn(c, request("slow_double it", slow_double))  # not streamed, an async tool
        return turn, result, events, steps, plain, threading.get_ident()

    turn, result, events, steps, plain, loop_thread = asyncio.run(main())
    assert [s.kind for s in steps] == ["assistant", "tool_results", "assistant"] and result.steps == steps
    assert events and all(e is not None for e in events) and steps[0].ttft is not None and turn.ttft is not None
    assert result.final.stop_reason == "end_turn" and steps[1].results[0]["content"].isdigit()
    assert threads and threads[0] != loop_thread  # a plain function runs off the loop, so other streams go on
    assert plain.steps[1].results[0]["content"].isdigit() and "returned" in plain.final.text
    assert turn.exchanges() == [(result.requests[0], steps[0].message), (result.requests[1], steps[2].message)]


def test_async_turn_with_async_send_keeps_the_pause_and_guard_rules():
    from nbmessages.notebook.turns import run_turn

    replies = iter([
        Message.model_validate({"stop_reason": "pause_turn", "content": [{"type": "text", "text": "part"}]}),
        Message.model_validate({"stop_reason": "tool_use", "content": [
            {"type": "tool_use", "id": "t1", "name": "broken", "input": {"text": "x"}}]}),
        Message.model_validate({"stop_reason": "tool_use", "content": [
            {"type": "tool_use", "id": "t2", "name": "broken", "input": {"text": "x"}}]}),
    ])

    async def send(req):
        await asyncio.sleep(0)
        return next(replies)

    result = asyncio.run(run_turn(None, request("research", broken), send=send, max_iterations=3))
    assert result.pauses == 1 and result.guard_hit and len(result.requests) == 3
    assert result.steps[2].results[0]["is_error"] and len(result.notes()) == 2


def test_sync_turn_streams_inside_a_running_loop_and_keeps_the_partial_on_interrupt(base_url):
    from nbmessages.notebook.turns import Turn

    seen = []

    def interrupt_mid_stream(stream):
        if len(turn.steps) == 2:  # the second request ...
            seen.append(stream)
        if len(seen) == 4:  # ... a few events in
            raise KeyboardInterrupt

    with nbmessages.Client(base_url=base_url, ledger=False) as c:
        turn = Turn(c, request("please add", add), stream=True, on_event=interrupt_mid_stream)

        async def in_a_kernel():
            seen.clear()
            return turn.run_sync()  # this thread runs an event loop, as a Jupyter kernel's does

        with pytest.raises(KeyboardInterrupt):
            asyncio.run(in_a_kernel())
    assert [s.kind for s in turn.steps] == ["assistant", "tool_results"]
    assert turn.live is not None and turn.live.outcome == "interrupted" and turn.partial is not None
    assert len(turn.requests) == 2 and turn.exchanges()[1][1] is None


def test_stopping_an_async_turn_keeps_the_partial_answer(slow_server):
    from nbmessages.notebook.turns import Turn

    async def main():
        async with nbmessages.AsyncClient(base_url=slow_server.base_url, ledger=False) as c:
            turn = Turn(c, request("Tell me a long story"), stream=True)
            task = asyncio.ensure_future(turn.run())
            while turn.partial is None or not turn.partial.text:
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return turn

    turn = asyncio.run(main())
    assert turn.partial.text and turn.live.outcome == "interrupted" and turn.steps == []


def test_a_sync_turn_refuses_an_async_client_instead_of_blocking_a_loop(base_url):
    from nbmessages.notebook.turns import Turn

    async def send(req):
        await asyncio.sleep(0.01)  # an async send is run to its end, like an async tool
        return Message.model_validate({"stop_reason": "end_turn", "content": [{"type": "text", "text": "ok"}]})

    c = nbmessages.AsyncClient(base_url=base_url, ledger=False)
    with pytest.raises(TypeError, match="await turn.run"):
        Turn(c, request("hi")).run_sync()
    assert Turn(None, request("hi"), send=send).run_sync().final.text == "ok"
