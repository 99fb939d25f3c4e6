"""The settings table: request parameters from plain settings, and one row showing up in every front end."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Any, get_args

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbmessages
from nbmessages.notebook import settings
from nbmessages.notebook.settings import Setting, request_params
from nbmessages.types.params import Effort
from nbmessages.types.rules import EFFORTS, MIN_THINKING_BUDGET


def test_request_params_fill_each_rows_field_path() -> None:
    params = request_params({"model": "claude-haiku-4-5", "thinking": 2048, "effort": "low", "stop": ["END"],
                             "provider": ["anthropic"], "models": ["a/b"], "cache": True, "tool_choice": "add",
                             "session_id": "s1", "temperature": 0.0, "system": ""})
    assert params == {
        "model": "claude-haiku-4-5", "max_tokens": 1024 + 2048, "temperature": 0.0,
        "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "summarized"},
        "output_config": {"effort": "low"}, "stop_sequences": ["END"], "tool_choice": {"type": "tool", "name": "add"},
        "cache_control": {"type": "ephemeral"}, "provider": {"order": ["anthropic"]}, "models": ["a/b"],
        "session_id": "s1",
    }  # the empty system prompt is not sent; temperature 0 is
    assert request_params({}) == {"model": settings.default("model"), "max_tokens": settings.default("max_tokens")}
    assert request_params({"thinking": "adaptive", "model": "claude-3-7-sonnet-latest"})["thinking"] == {
        "type": "adaptive"}
    with pytest.raises(TypeError, match="unknown setting 'temprature'"):
        request_params({"temprature": 0.3})


def test_the_effort_values_and_thinking_minimum_come_from_the_shared_rules_everywhere() -> None:
    from IPython.core.error import UsageError

    from nbmessages.notebook.magic.magics import MessageMagics
    from nbmessages.notebook.playground.controls import Controls

    assert EFFORTS == get_args(Effort) and settings.row("effort").choices == EFFORTS
    parser = MessageMagics.message.parser
    assert [parser.parse_args(["--effort", e]).effort for e in EFFORTS] == list(EFFORTS)
    with pytest.raises(UsageError, match="invalid choice"):
        parser.parse_args(["--effort", "extreme"])
    controls = Controls(dict)
    assert [v for _label, v in controls.effort.options] == ["", *EFFORTS]
    assert controls.thinking_budget.min == MIN_THINKING_BUDGET
    assert f">= {MIN_THINKING_BUDGET}" in settings.row("thinking").help
    with pytest.raises(ValueError, match=f"{MIN_THINKING_BUDGET} or more"):
        settings.row("thinking").parse("lots")


def test_the_table_needs_neither_ipython_nor_widgets() -> None:
    code = ("import sys; from nbmessages.notebook import settings; "
            "p = settings.request_params({'effort': 'high'}); "
            "print(p['output_config'], 'IPython' in sys.modules, 'ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["{'effort':", "'high'}", "False", "False"]


SPEED = Setting("speed", "the output speed tier", choices=("standard", "fast"), flags=("--speed",),
                widget="choice", section="Sampling", field="speed")


@pytest.fixture
def with_speed(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The table with one more row, and the magics rebuilt from it (restored afterwards)."""
    from nbmessages.notebook.magic import magics

    monkeypatch.setattr(settings, "ROWS", (*settings.ROWS, SPEED))
    shell = InteractiveShell.instance()
    importlib.reload(magics)
    shell.register_magics(magics.MessageMagics(shell))
    yield shell
    monkeypatch.undo()
    importlib.reload(magics)
    shell.register_magics(magics.MessageMagics(shell))


def test_adding_a_request_option_is_one_row(with_speed: Any, server: Any) -> None:
    shell = with_speed
    with capture_output() as help_text:
        shell.run_cell("%message --help")
    assert "--speed {standard,fast}" in help_text.stdout and "the output speed tier" in help_text.stdout

    shell.run_cell(f"%nbmessages base_url {server.base_url}")
    with capture_output() as dry:
        shell.run_cell("%%message --dry-run --speed fast\nHello")
    shown = "".join(out.data.get("text/plain", "") for out in dry.outputs)
    assert "Dry run" in shown and '"speed": "fast"' in shown

    pg = nbmessages.playground(base_url=server.base_url, namespace={}, speed="fast")
    assert pg.speed.value == "fast" and pg.settings()["speed"] == "fast"
    assert "--speed fast" in pg.magic_code().splitlines()[0] and "speed='fast'" in pg.python_code()
    pg.speed.value = "standard"
    assert request_params(pg.settings())["speed"] == "standard"
    assert json.loads(json.dumps(request_params({"speed": "fast"}))) == {
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "speed": "fast"}


def test_header_options_are_call_keywords_not_body_fields() -> None:
    values = {"openrouter_cache": 600, "openrouter_metadata": True, "model": "m"}
    assert settings.call_options(values) == {"openrouter_cache": 600, "openrouter_metadata": True}
    assert not {"openrouter_cache", "openrouter_metadata"} & set(settings.request_params(values))
    assert settings.call_options({"openrouter_metadata": False}) == {}  # unchecked: the client's own choice
    assert settings.call_options({"openrouter_cache": False}) == {"openrouter_cache": False}  # off overrides
    assert settings.row("openrouter_cache").parse("on") is True
    assert settings.row("openrouter_cache").parse("90") == 90
    with pytest.raises(ValueError, match="TTL in seconds from 1 to 86400"):
        settings.row("openrouter_cache").parse("90000")
