"""A canary key never shows in reprs, errors, tracebacks, logs or call records."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from nbmessages import AsyncClient, Client
from nbmessages.client import errors
from nbmessages.client import observers as records
from nbmessages.client.config import resolve
from nbmessages.testing import message_events, sse

CANARY = "sk-ant-canary-0123456789abcdefghijklmnop"


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/fail"):
        raise httpx.ConnectError("refused")
    if b"unauthorised" in request.content:
        return httpx.Response(401, json={"type": "error", "error": {"type": "authentication_error",
                                                                    "message": "invalid x-api-key"}})
    if b"broken" in request.content:
        events = message_events([{"type": "text", "text": "half"}])[:4]
        return httpx.Response(200, content=sse(events), headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json={"id": "m", "content": [{"type": "text", "text": "ok"}], "usage": {}})


def test_canary_never_leaks(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch):
    seen: list[records.CallRecord] = []

    class Keep:
        def before_request(self, params):
            pass

        def record(self, record):
            seen.append(record)

    monkeypatch.setattr(records, "_factories", [lambda options: [Keep()]])
    caplog.set_level(logging.DEBUG)
    client = Client(api_key=CANARY, base_url="http://api.test",
                    http_client=httpx.Client(transport=httpx.MockTransport(answer)), max_retries=0)
    shown = [repr(client), str(client.api_key), repr(client.api_key), repr(resolve(CANARY, "http://api.test")), repr(client.profile)]
    shown.append(repr(AsyncClient(api_key=CANARY, base_url="http://api.test")))
    client.messages.create(model="m", max_tokens=5, messages="hello")
    retrying = Client(api_key=CANARY, base_url="http://api.test", max_retries=1,
                      http_client=httpx.Client(transport=httpx.MockTransport(answer)))
    with pytest.raises(errors.APIConnectionError):
        retrying.send(retrying.build_request("POST", "fail"))
    assert "retrying in" in caplog.text
    for prompt, error in [("unauthorised", errors.AuthenticationError), ("broken", errors.IncompleteStreamError)]:
        with pytest.raises(error) as info:
            with client.messages.stream(model="m", max_tokens=5, messages=prompt) as stream:
                stream.get_final_message()
        shown += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value)),
                  repr(vars(info.value))]
    shown += [repr(r) for r in seen] + [caplog.text]
    assert len(seen) == 3
    assert CANARY in client.api_key.get_secret_value()
    for text in shown:
        assert CANARY not in text
        assert CANARY[8:24] not in text


# -- a server that echoes the key (some proxies do): scrubbed from everything that leaves the client

ODD_CANARY = "zz-proxy-canary-9f8e7d6c5b4a3210"  # no known prefix: scrubbed because it is the configured key


def _echo_key(status: int):
    from starlette.responses import JSONResponse

    async def handler(request):
        key = request.headers.get("x-api-key", "")
        return JSONResponse({"type": "error", "error": {"type": "invalid_request_error",
                             "message": f"bad key {key}; also saw Bearer {key} and sk-ant-api03-{'x' * 30}"}},
                            status, headers={"retry-after": "0"})

    return handler


@pytest.mark.parametrize("key", [CANARY, ODD_CANARY])
def test_a_key_echoed_by_the_server_is_scrubbed_everywhere(key, bad_server, tmp_path, caplog):
    from nbmessages.ledger.store import Ledger
    from nbmessages.notebook.render.status import error_markdown, error_plain

    caplog.set_level(logging.DEBUG)
    bad_server.handler = _echo_key(529)
    ledger = Ledger(tmp_path / "u.sqlite")
    cassette = tmp_path / "calls.json"
    c = Client(api_key=key, base_url=bad_server.base_url, profile="compatible", ledger=ledger, max_retries=1,
               record=cassette)
    with pytest.raises(errors.OverloadedError) as info:
        c.messages.create(model="m", max_tokens=5, messages="hi")
    ledger.export(tmp_path / "u.csv")
    error = info.value
    shown = [str(error), repr(error), repr(error.body), error.message, error_markdown(error), error_plain(error),
             "".join(traceback.format_exception(error)), caplog.text, repr(ledger.rows()),
             (tmp_path / "u.csv").read_text(), cassette.read_text()]
    assert "bad key" in str(error) and "[REDACTED]" in str(error) and "retrying in" in caplog.text
    for text in shown:
        assert key not in text and "x" * 30 not in text


def test_header_command_masks_credentials(capsys):
    from nbmessages.notebook.magic.commands import SettingsCommands
    from nbmessages.notebook.magic.session import Session

    commands = SettingsCommands(Session())
    for name in ("x-api-key", "Authorization", "cookie", "x-custom-token", "my-secret", "x-goog-api-key"):
        commands.run(f"header {name} {ODD_CANARY}")
    commands.run("header x-trace hello")
    out = capsys.readouterr().out
    assert ODD_CANARY not in out and out.count("[REDACTED]") == 6 and "x-trace: hello" in out


def test_a_key_in_the_base_urls_query_is_never_shown(server, caplog):
    caplog.set_level(logging.DEBUG)
    c = Client(base_url=f"{server.base_url}/?api_key={ODD_CANARY}&tenant=a", ledger=False)
    c.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages="hi")
    shown = repr(c) + caplog.text
    assert ODD_CANARY not in shown and "tenant=a" in shown
