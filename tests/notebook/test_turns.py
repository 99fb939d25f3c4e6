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
