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
