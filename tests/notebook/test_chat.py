"""Chat: turns, requests, retry, display; named chats across cells of the magic."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbmessages
import nbmessages.local
import nbmessages.notebook.magic.magics
from nbmessages.notebook.chat import Chat
from nbmessages.types import Message


def answer(text: str) -> Message:
    return Message.model_validate({"model": "m", "content": [{"type": "text", "text": text}],
                                   "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 2}})


def test_turns_and_request():
    chat = Chat("c").add_user("Hi").add(answer("Hello")).add_user("More")
    request = chat.to_request(model="m", max_tokens=10)
    assert [m.role for m in request.messages] == ["user", "assistant", "user"]
    assert chat.to_request("Again", model="m", max_tokens=10).messages[-1].content == "Again"
    assert chat.last_answer.text == "Hello" and len(chat) == 3


def test_retry_drops_last_exchange_including_tool_turns():
    tool_call = Message.model_validate({"model": "m", "stop_reason": "tool_use", "content": [
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]})
    results = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}
    chat = Chat("c").add_user("first").add(answer("one")).add_user("second").extend([tool_call, results, answer("two")])
    prompt = chat.retry()
    assert prompt == {"role": "user", "content": "second"} and len(chat) == 2
    chat.reset()
    with pytest.raises(ValueError, match="no prompt to retry"):
        chat.retry()


def test_display_history():
    chat = Chat("demo").add_user("What are $5 and $7 in cents?").add(answer("500 cents"))
    md = chat._repr_markdown_()
    assert "chat `demo` (2 turns)" in md and "🧑 you" in md and "500 cents" in md
    assert "What are <span>&#36;</span>5 and <span>&#36;</span>7" in md  # money, not TeX
    bundle = chat._repr_mimebundle_()
    assert "[assistant]" in bundle["text/plain"] and "500 cents" in bundle["text/plain"]
    assert repr(chat) == "Chat('demo', 2 turns)"
    assert [b["type"] for b in chat.blocks()] == ["text", "text"]


def test_lazy_export():
    assert nbmessages.Chat is Chat


@pytest.fixture
def ip(monkeypatch):
    monkeypatch.setenv("NBMESSAGES_DISPLAY", "live")
    monkeypatch.setenv("NBMESSAGES_LEDGER", ":memory:")
    with nbmessages.local.start(pace=0, ttft=0) as server:
        shell = InteractiveShell.instance()
        nbmessages.notebook.magic.magics.reset_session()
        shell.run_cell("%load_ext nbmessages")
        with capture_output():
            shell.run_cell(f"%nbmessages base_url {server.base_url}")
        yield shell
    nbmessages.notebook.magic.magics.reset_session()


def test_named_chats_across_cells(ip):
    with capture_output():
        ip.run_cell("%%message --chat a\nFirst question")
        ip.run_cell("%%message --chat b\nOther topic")
        ip.run_cell("%%message --chat a\nFollow-up")
    session = nbmessages.notebook.magic.magics.session()
    a, b = session.chats["a"], session.chats["b"]
    assert len(a) == 4 and len(b) == 2 and session.current_chat == "a"
    request = a.to_request("next", model="m", max_tokens=5)
    assert request.messages[0].content == "First question" and request.messages[2].content == "Follow-up"
    with capture_output():
        ip.run_cell("%message --chat a --new Fresh start")
    assert len(a) == 2 and a.turns[0]["content"] == "Fresh start"
