"""Where a client's settings come from: arguments, then NBMESSAGES_*, then the SDKs' variables, else embedded."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbmessages import Client
from nbmessages.ledger.store import Ledger
from nbmessages.local import start
from nbmessages.notebook.magic.session import Session

KEY = "sk-ant-config-test-0123456789"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL",
                 "NBMESSAGES_BASE_URL", "NBMESSAGES_PROFILE", "NBMESSAGES_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def keyed():
    """A server that answers only requests carrying KEY: proof the key went where the URL points."""
    with start(pace=0, ttft=0, key=KEY) as running:
        yield running


def ask(c: Client) -> str:
    return c.messages.create(model="claude-sonnet-4-5", max_tokens=20, messages="hi").id


def test_sdk_base_url_is_honoured_with_a_key_from_the_environment(env, keyed):
    env.setenv("ANTHROPIC_API_KEY", KEY)
    env.setenv("ANTHROPIC_BASE_URL", keyed.base_url)
    c = Client(ledger=False)
    assert c.base_url == keyed.base_url and not c.uses_embedded_server
    assert ask(c).startswith("msg_")


def test_sdk_base_url_alone_is_honoured(env, server):
    env.setenv("ANTHROPIC_BASE_URL", server.base_url)
    c = Client(ledger=False)
    assert c.base_url == server.base_url and not c.uses_embedded_server
    assert ask(c)


def test_openrouter_base_url_with_its_key(env, server):
    env.setenv("OPENROUTER_API_KEY", "sk-or-v1-test")
    env.setenv("OPENROUTER_BASE_URL", server.openrouter_base_url)
    c = Client(ledger=False)
    assert (c.profile.name, c.base_url) == ("openrouter", server.openrouter_base_url)
    assert ask(c)


def test_order_arguments_then_nbmessages_then_sdk_variables(env, server):
    env.setenv("ANTHROPIC_API_KEY", KEY)
    env.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    env.setenv("NBMESSAGES_BASE_URL", server.base_url)
    assert Client(ledger=False).base_url == server.base_url
    assert Client(base_url="http://127.0.0.1:8", ledger=False).base_url == "http://127.0.0.1:8"
    env.setenv("NBMESSAGES_PROFILE", "openrouter")
    env.delenv("NBMESSAGES_BASE_URL")
    env.setenv("OPENROUTER_BASE_URL", server.openrouter_base_url)
    assert Client(ledger=False).base_url == server.openrouter_base_url


def test_base_url_with_a_query_keeps_the_path_before_it(env, server):
    c = Client(base_url=f"{server.base_url}/?tenant=a", ledger=False)
    assert str(c.build_request("POST", "messages").url) == f"{server.base_url}/v1/messages?tenant=a"
    assert ask(c)


def test_base_url_credentials_are_sent_but_never_shown(env, server, tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)
    host = server.base_url.removeprefix("http://")
    ledger = Ledger(tmp_path / "u.sqlite")
    c = Client(base_url=f"http://alice:s3cr3t-pw@{host}", ledger=ledger)
    assert c.build_request("POST", "messages").headers["authorization"].startswith("Basic ")
    assert ask(c)
    shown = repr(c) + c.base_url + caplog.text + repr(ledger.rows())
    assert "s3cr3t-pw" not in shown and "alice" not in shown
    assert ledger.rows()[0]["base_host"] == host


def test_the_magic_notices_a_key_set_after_its_first_call(env, server):
    session = Session()
    assert session.client().uses_embedded_server
    env.setenv("ANTHROPIC_BASE_URL", server.base_url)
    env.setenv("ANTHROPIC_API_KEY", KEY)
    fresh = session.client()
    assert fresh.base_url == server.base_url and fresh.api_key is not None
    assert session.client() is fresh  # unchanged configuration: the same client


def test_usage_module_attributes_in_a_fresh_interpreter():
    code = "import nbmessages, pandas; print(callable(nbmessages.usage), nbmessages.usage.by_model.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         timeout=120, check=True).stdout
    assert out.split() == ["True", "by_model"]


def test_the_magics_budget_survives_a_configuration_change(env, server):
    session = Session()
    session.set_budget(1.0)
    env.setenv("ANTHROPIC_BASE_URL", server.base_url)
    first = session.client()
    ask(first)
    spent = session.budget_status()
    assert "spent $0.0000" not in spent
    env.setenv("ANTHROPIC_API_KEY", KEY)
    second = session.client()
    assert second is not first and second.budget is first.budget and session.budget_status() == spent
    session.set_budget(2.0)
    assert second.budget.limit == 2.0 and session.budget_status().startswith("$2.00")
