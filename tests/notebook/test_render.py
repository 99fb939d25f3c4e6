"""The renderer: Markdown/plain bundles, stable streaming Markdown, every block kind, footer, notes, LiveDisplay."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stdout

import httpx
import pytest

import nbmessages
import nbmessages.client.errors
from nbmessages.client.accumulate import Snapshot, accumulate
from nbmessages.client.errors import BadGatewayError, OverloadedError, RateLimitError, StreamEventError
from nbmessages.ledger.budget import BudgetExceededError
from nbmessages.notebook.live_call import LiveCall
from nbmessages.notebook.render import (
    LITERAL_DOLLAR,
    LiveDisplay,
    Status,
    Transcript,
    close_fences,
    error_plain,
    escape_dollars,
    hold_partial_row,
    render_bundle,
    render_markdown,
    render_plain,
    stable_markdown,
)
from nbmessages.notebook.render.blocks import THINKING_STYLE
from nbmessages.testing import long_stream, message_events, mock_transport
from nbmessages.types import Explained, RequestValidationError, Usage

# -- Markdown stability


def test_open_fence_is_closed_and_closed_fence_untouched():
    assert close_fences("a\n```python\nx = 1") == "a\n```python\nx = 1\n```\n"
    done = "a\n```\nx\n```\nafter"
    assert close_fences(done) == done
    assert close_fences("~~~~\ncode ``` inside\n") == "~~~~\ncode ``` inside\n~~~~\n"


def test_partial_table_row_is_held_while_streaming():
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n| 3"
    assert hold_partial_row(text) == "| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert stable_markdown(text, streaming=False).endswith("| 3")
    assert hold_partial_row("plain text, still going") == "plain text, still going"


def test_dollars_in_prose_are_made_literal_but_math_and_code_are_not():
    text = "Costs $5 or $10, math $x^2$ and $$\\int f$$, code `echo $HOME`\n```sh\necho $PATH\n```\n$5-$10"
    out = escape_dollars(text)
    assert f"{LITERAL_DOLLAR}5 or {LITERAL_DOLLAR}10" in out and "$x^2$" in out and "$$\\int f$$" in out
    assert "`echo $HOME`" in out and "echo $PATH" in out and out.endswith(f"{LITERAL_DOLLAR}5-{LITERAL_DOLLAR}10")
    # a model's own \\$ becomes a bare $ in the Markdown parser: it is made literal too
    assert escape_dollars("from \\$5 to \\$9") == f"from {LITERAL_DOLLAR}5 to {LITERAL_DOLLAR}9"


def test_a_lone_dollar_in_a_paragraph_stays_readable():
    # front ends pair $ only within a paragraph: one $ there is money as it stands
    assert escape_dollars("It costs $5.\n\nOr $7 next year.") == "It costs $5.\n\nOr $7 next year."
    assert escape_dollars("- $5\n- $7") == f"- {LITERAL_DOLLAR}5\n- {LITERAL_DOLLAR}7"  # one paragraph, two $


def test_money_in_notes_errors_and_footer_is_literal():
    status = Status(notes=["spent $0.01 of $0.50"], cost=0.0123, error=ValueError("budget $1 is below $2"))
    md = render_markdown([{"type": "text", "text": "Hi"}], status)
    assert "$0.01 of" not in md and "budget $1" not in md
    assert f"spent {LITERAL_DOLLAR}0.01 of {LITERAL_DOLLAR}0.50" in md and f"budget {LITERAL_DOLLAR}1" in md


def test_streaming_snapshot_renders_stably_at_every_step():
    blocks = [{"type": "text", "text": "Intro\n```python\nprint('hi')\n```\n| a | b |\n|---|---|\n| 1 | 2 |\nEnd $5"}]
    snapshot = Snapshot()
    for event in message_events(blocks):
        accumulate(snapshot, event)
        md = render_markdown(snapshot, Status(streaming=True))
        assert md.count("```") % 2 == 0  # never an open fence that swallows what follows
    assert "End $5" in render_markdown(snapshot.to_message())


# -- blocks


def test_thinking_is_collapsible_and_open_only_while_streaming():
    blocks = [{"type": "thinking", "thinking": "Let me think", "signature": "s"}, {"type": "text", "text": "Hi"}]
    md = render_markdown(blocks)
    assert f'<details style="{THINKING_STYLE}"><summary>💭 Thinking</summary>\n\nLet me think\n\n</details>' in md
    snap = Snapshot()
    for event in message_events(blocks)[:3]:
        accumulate(snap, event)
    assert "<details open style=" in render_markdown(snap, Status(streaming=True))
    assert "not shown" in render_markdown([{"type": "thinking", "thinking": "", "signature": "s"}])
    assert "redacted" in render_markdown([{"type": "redacted_thinking", "data": "x"}])


def test_tool_use_pretty_json_and_results():
    blocks = [
        {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 1, "b": 2}},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "3"},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ValueError: no", "is_error": True},
    ]
    md = render_markdown(blocks)
    assert "**🔧 tool call** `add`" in md and '```json\n{\n  "a": 1,\n  "b": 2\n}\n```' in md
    assert "**↩ tool result** from `add`" in md and "**❌ tool error** from `add`" in md
    plain = render_plain(blocks)
    assert '→ tool call add {"a":1,"b":2}' in plain and "← tool error from add" in plain


def test_live_tool_input_is_shown_while_it_streams():
    events = message_events([{"type": "tool_use", "id": "t1", "name": "record", "input": {"items": [1, 2, 3]}}])
    snap = Snapshot()
    for event in events[:4]:
        accumulate(snap, event)
    md = render_markdown(snap, Status(streaming=True))
    assert "*(arguments streaming…)*" in md and '"items"' in md


def test_citations_become_numbered_sources():
    cite = {"type": "page_location", "cited_text": "The sky is blue.", "document_title": "Sky", "start_page_number": 2,
            "end_page_number": 3}
    blocks = [{"type": "text", "text": "Blue", "citations": [cite]}, {"type": "text", "text": " sky.",
                                                                       "citations": [cite]}]
    md = render_markdown(blocks)
    assert "Blue<sup>[1]</sup> sky.<sup>[1]</sup>" in md
    assert "**Sources**\n\n1. “The sky is blue.” — Sky — p. 2" in md
    assert "Blue[1] sky.[1]" in render_plain(blocks)


def test_server_tool_blocks_render_generically():
    blocks = [{"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "x"}},
              {"type": "web_search_tool_result", "tool_use_id": "srv_1",
               "content": [{"type": "web_search_result", "url": "https://a.example", "title": "A",
                            "encrypted_content": "E" * 1000}]}]
    md = render_markdown(blocks)
    assert "**🛠 server tool** `web_search`" in md and "**web_search_tool_result**" in md
    assert "(1000 chars)" in md  # long opaque strings are shortened
    assert "[web_search_tool_result]" in render_plain(blocks)


# -- footer, notes, errors


def test_footer_has_every_field():
    usage = Usage(input_tokens=10, output_tokens=20, cache_read_input_tokens=3, cache_creation_input_tokens=4)
    status = Status(model="m", provider="p", stop_reason="end_turn", usage=usage, cost=0.0123, ttft=0.25,
                    duration=1.5)
    plain = render_plain(["Hi"], status)
    assert plain.endswith(
        "── m · p · end_turn · in 10 · out 20 · cache read 3 · cache write 4 · $0.01 · first token 0.25 s · 1.50 s")
    assert "<sub>m · p · end_turn" in render_markdown(["Hi"], status)


@pytest.mark.parametrize(("status", "expected"), [
    (Status(stop_reason="max_tokens", max_tokens=50), "The answer was cut"),
    (Status(stop_reason="stop_sequence", stop_sequence="###"), "stop sequence `###`"),
    (Status(stop_reason="refusal", stop_details={"category": "bio", "explanation": "No."}), "(category: bio): No."),
    (Status(stop_reason="tool_use"), "`tool_use`"),
    (Status(stop_reason="pause_turn"), "`pause_turn`"),
    (Status(stop_reason="model_context_window_exceeded"), "context window"),
    (Status(stop_reason="something_new"), "`something_new`"),
    (Status(interrupted=True), "**Interrupted**"),
])
def test_every_stop_reason_is_visible(status, expected):
    assert expected in render_markdown(["x"], status)


def test_end_turn_has_no_note():
    assert "\n> " not in render_markdown(["x"], Status(stop_reason="end_turn"))


def test_error_box_without_traceback():
    errors = [RateLimitError("slow down", request_id="req_1"), OverloadedError("busy"),
              RequestValidationError([("temperature", "must be at most 1")]),
              StreamEventError("mid-stream", error_type="overloaded_error")]
    for error in errors:
        md = render_markdown([], Status(error=error))
        assert md.startswith("> **⚠ ") and "Traceback" not in md
    md = render_markdown([], Status(error=errors[0]))
    assert "Rate limited (rate_limit_error 429)" in md and "request id req_1" in md and "slow down" in md
    assert "temperature: must be at most 1" in render_plain([], Status(error=errors[2]))


def test_error_titles_and_hints_come_from_the_error_itself():
    class QuotaError(Explained, RuntimeError):
        title, hint = "Quota used up", "Ask for more quota."

    md = render_markdown([], Status(error=QuotaError("none left")))
    assert md.startswith("> **⚠ Quota used up**") and "none left" in md and md.rstrip().endswith("> Ask for more quota.")
    plain = render_plain([], Status(error=RateLimitError("slow down")))
    assert "⚠ Rate limited (rate_limit_error 429)" in plain and RateLimitError.hint in plain
    assert "The API is overloaded" in render_plain([], Status(error=OverloadedError("x")))
    spent = BudgetExceededError("over")
    assert "Budget exceeded" in render_markdown([], Status(error=spent)) and BudgetExceededError.hint
    assert "Bad gateway" in render_plain([], Status(error=BadGatewayError("x")))


def test_a_front_end_adds_its_own_title_and_hint_after_the_errors():
    plain = render_plain([], Status(error=BudgetExceededError("over"), error_hint="Use the knob."))
    assert plain.index(BudgetExceededError.hint) < plain.index("Use the knob.")
    assert error_plain(KeyError("k"), title="Wrong key").startswith("⚠ Wrong key")
    assert error_plain(RateLimitError("x"), title="ignored").startswith("⚠ Rate limited")  # the error's own wins
    assert error_plain(KeyError("k")).startswith("⚠ KeyError")


def test_no_library_error_speaks_a_front_ends_words():
    classes = [c for c in vars(nbmessages.client.errors).values() if isinstance(c, type) and issubclass(c, Explained) and c is not Explained]
    for cls in [*classes, BudgetExceededError, RequestValidationError]:
        assert cls.title, cls
        assert "%" not in (cls.hint or "") and "cell" not in (cls.hint or ""), cls


def test_bundle_types_and_optional_html():
    bundle = render_bundle(["**bold** $5"], Status())
    assert set(bundle) == {"text/markdown", "text/plain"}
    html = render_bundle(["**bold**\n\n| a |\n|---|\n| 1 |"], html=True)["text/html"]
    assert "<strong>bold</strong>" in html and "<table>" in html


def test_message_and_transcript_inputs():
    message = nbmessages.Message.model_validate({"model": "m", "content": [{"type": "text", "text": "Hello"}],
                                                 "stop_reason": "end_turn", "usage": {"input_tokens": 1}})
    assert "m · end_turn · in 1" in render_plain(message)
    both = render_plain(Transcript(["first"], [{"type": "tool_result", "tool_use_id": "x", "content": "r"}], message))
    assert both.index("first") < both.index("result of x") < both.index("Hello")


def test_user_turn_dict_renders():
    assert "hello" in render_markdown({"role": "user", "content": "hello"})


# -- LiveDisplay


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakePublisher:
    def __init__(self) -> None:
        self.shown: list[dict[str, str]] = []
        self.updates: list[dict[str, str]] = []

    def show(self, bundle, display_id=None):
        self.shown.append(bundle)

    def update(self, bundle, display_id):
        self.updates.append(bundle)


def test_live_display_coalesces_updates():
    clock, pub = FakeClock(), FakePublisher()
    live = LiveDisplay(0.1, publisher=pub, mode="live", clock=clock)
    renders = []

    def make():
        renders.append(1)
        return {"text/markdown": "x", "text/plain": "x"}

    live.start()
    for i in range(1000):  # 1000 deltas over one simulated second
        clock.now = i / 1000
        live.update(make)
    assert len(renders) <= 11 and live.updates == len(renders)
    live.finish({"text/markdown": "final", "text/plain": "final"})
    # the empty live area is plain text: a front end then drops its Markdown renderer, late renders and all
    assert pub.shown == [{"text/plain": ""}, {"text/markdown": "final", "text/plain": "final"}]
    assert pub.updates[-1] == {"text/plain": ""}


def test_text_mode_appends_to_terminal():
    live = LiveDisplay(0, publisher=FakePublisher(), mode="text")
    out = io.StringIO()
    with redirect_stdout(out):
        live.update(lambda: {"text/plain": "Hello"})
        live.update(lambda: {"text/plain": "Hello world\n\n── m · streaming…"})
        live.finish({"text/plain": "Hello world!\n\n── m · end_turn"})
    assert out.getvalue() == "Hello world!\n\n── m · end_turn\n"


def test_text_mode_never_prints_a_line_that_later_changes():
    live = LiveDisplay(0, publisher=FakePublisher(), mode="text")
    out = io.StringIO()
    with redirect_stdout(out):
        live.update(lambda: {"text/plain": "Let me call it.\n\n→ tool call f {}"})
        live.update(lambda: {"text/plain": 'Let me call it.\n\n→ tool call f {"a": 1}\n\n← result of f:\n  ok'})
        live.finish({"text/plain": 'Let me call it.\n\n→ tool call f {"a": 1}\n\n← result of f:\n  ok\n\nDone.'
                                   "\n\n── m · end_turn"})
    printed = out.getvalue()
    assert printed.count("Let me call it.") == 1 and "tool call f {}" not in printed
    assert printed.endswith('→ tool call f {"a": 1}\n\n← result of f:\n  ok\n\nDone.\n\n── m · end_turn\n')


def test_long_stream_display_updates_stay_bounded():
    client = nbmessages.Client(base_url="http://mock.test", ledger=False,
                               http_client=httpx.Client(transport=mock_transport(long_stream(20_000))))
    pub = FakePublisher()
    started = time.perf_counter()
    call = LiveCall(client, nbmessages.Request(model="m", max_tokens=10, messages="hi"),
                    display=LiveDisplay(publisher=pub, mode="live"))
    outcome = call.run()
    elapsed = time.perf_counter() - started
    assert outcome.ok and outcome.final.text.count("lorem") == 20_000
    assert call.live.updates <= elapsed * 10 + 2  # about ten a second, never one per delta


def test_display_mode_follows_what_the_shell_can_show(monkeypatch):
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from nbmessages.notebook.render import display_mode

    monkeypatch.delenv("NBMESSAGES_DISPLAY", raising=False)
    shell = InteractiveShell.instance()
    monkeypatch.setattr(shell, "display_pub", DisplayPublisher(shell=shell))
    assert display_mode() == "text"  # the terminal's publisher: prints text, cannot update a display
    with capture_output():
        assert display_mode() == "live"  # a publisher of its own (a kernel's, a capture) shows displays
    monkeypatch.setenv("NBMESSAGES_DISPLAY", "live")
    assert display_mode() == "live"


@pytest.mark.parametrize(("error", "title"), [
    ("malformed", "The answer was not a Message"),
    ("timeout", "The stream went quiet"),
    ("unpriced", "No price known for this model"),
])
def test_the_newer_errors_carry_their_own_titles(error: str, title: str) -> None:
    from nbmessages.client.errors import MalformedResponseError, StreamTimeoutError
    from nbmessages.ledger.budget import UnpricedModelError
    from nbmessages.notebook.render import error_markdown

    made = {"malformed": lambda: MalformedResponseError("a 200 whose body is HTML"),
            "timeout": lambda: StreamTimeoutError("no event for 5 s"),
            "unpriced": lambda: UnpricedModelError("no price for 'mystery'")}[error]()
    shown = error_markdown(made)
    assert title in shown and type(made).__name__ not in shown.split("\n")[0]
