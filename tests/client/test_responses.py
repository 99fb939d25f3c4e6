"""A 200 whose body is not what it claims: a typed error naming what was wrong, and a ledger row."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from nbmessages import Client
from nbmessages.client.errors import APIError, MalformedResponseError
from nbmessages.ledger.store import Ledger

BODIES = {
    "not a message": (b'{"hello": "world"}', "not a Message"),
    "error envelope": (b'{"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}',
                       "error envelope"),
    "array": (b'[{"type": "message"}]', "JSON list"),
    "html": (b"<html><body>Bad gateway</body></html>", "not JSON"),
    "truncated": (b'{"id": "msg_1", "type": "message", "content": [{"type": "te', "not JSON"),
    "wrong types": (b'{"id": "m", "type": "message", "content": [], "usage": {"input_tokens": "lots"}}',
                    "usage.input_tokens"),
    "content not a list": (b'{"id": "m", "type": "message", "content": "hi"}', "not a Message"),
}


def client_answering(body: bytes, ledger: object = False) -> Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"request-id": "req_bad", "content-type": "application/json"})

    return Client(api_key="k", base_url="http://test", max_retries=2, ledger=ledger,
                  http_client=httpx.Client(transport=httpx.MockTransport(answer)))


@pytest.mark.parametrize("name", list(BODIES))
def test_a_200_that_is_not_a_message_is_a_typed_error_with_a_row(name, tmp_path: Path):
    body, said = BODIES[name]
    ledger = Ledger(tmp_path / "u.sqlite")
    with pytest.raises(MalformedResponseError, match=said) as info:
        client_answering(body, ledger).messages.create(model="m", max_tokens=5, messages="hi")
    error = info.value
    assert isinstance(error, APIError) and error.status_code == 200 and error.request_id == "req_bad"
    (row,) = ledger.rows()
    assert row["outcome"] == "malformed_response" and row["request_id"] == "req_bad" and row["retries"] == 0


@pytest.mark.parametrize("body", [b"[]", b"<html>", b'{"input_tokens": "many"}'])
def test_count_tokens_with_a_wrong_body(body):
    with pytest.raises(MalformedResponseError):
        client_answering(body).messages.count_tokens(model="m", messages="hi")


@pytest.mark.parametrize("body", [b"[]", b"<html>", b'{"data": [{"name": "no id"}]}'])
def test_models_with_a_wrong_body(body):
    with pytest.raises(MalformedResponseError):
        client_answering(body).models.list()


def test_the_embedded_servers_malformed_fault_on_a_whole_answer(server, tmp_path: Path):
    ledger = Ledger(tmp_path / "u.sqlite")
    c = Client(base_url=server.base_url, ledger=ledger, default_headers={"x-nbmessages-fault": "malformed"})
    with pytest.raises(MalformedResponseError, match="not JSON") as info:
        c.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages="hi")
    assert info.value.request_id and info.value.request_id.startswith("req_")
    assert [r["outcome"] for r in ledger.rows()] == ["malformed_response"]
