"""Cassettes: matching, scrubbing, save/load; the recording proxy and byte-for-byte replay."""

from __future__ import annotations

import json

import httpx
import pytest
from local_fixtures import body, error_of

from nbmessages.local import Cassette, start
from nbmessages.local.cassette import normalize_path


def test_add_match_in_order_and_path_normalisation():
    cassette = Cassette()
    cassette.add("POST", "/v1/messages", {"b": 1, "a": [1, 2]}, 500, {"content-type": "application/json"}, "fail")
    cassette.add("post", "/v1/messages?beta=true", '{"a": [1, 2], "b": 1}', 200, {}, "ok")
    assert [cassette.match("POST", "/v1//messages/", b'{"a":[1,2],"b":1}')["response"]["body"]
            for _ in range(3)] == ["fail", "ok", "ok"]
    cassette.rewind()
    assert cassette.match("POST", "/v1/messages", {"a": [1, 2], "b": 1})["response"]["status"] == 500
    assert cassette.match("POST", "/api/v1/messages", {"a": [1, 2], "b": 1}) is None  # /v1 and /api/v1 differ
    assert cassette.match("POST", "/v1/messages", {"a": [2, 1], "b": 1}) is None
    assert normalize_path("/api//v1/messages/?x=1") == "/api/v1/messages"


def test_scrub_removes_credentials(tmp_path):
    cassette = Cassette(tmp_path / "c.json")
    headers = {"Content-Type": "text/event-stream", "request-id": "req_1", "x-api-key": "sk-ant-api03-SECRETSECRET",
               "authorization": "Bearer sk-or-v1-SECRETSECRET", "set-cookie": "session=SECRETSECRET",
               "anthropic-organization-id": "org-SECRETSECRET"}
    request_body = {"model": "m", "metadata": {"api_key": "SECRETSECRET", "auth_token": "SECRETSECRET"},
                    "messages": [{"role": "user", "content": "my key is sk-ant-api03-SECRETSECRET"}], "max_tokens": 3}
    cassette.add("POST", "/v1/messages", request_body, 200, headers, "data: Bearer abcdefghijklmnop\n\n")
    cassette.interactions.append({"request": {"method": "GET", "path": "/v1/models", "body": None,
                                              "headers": {"x-api-key": "SECRETSECRET"}},
                                  "response": {"status": 200, "headers": {"Cookie": "SECRETSECRET"}, "body": ""}})
    saved = cassette.scrub().save()
    text = saved.read_text()
    assert "SECRETSECRET" not in text and "abcdefghijklmnop" not in text
    loaded = Cassette.load(saved)
    assert loaded.interactions[0]["response"]["headers"] == {"content-type": "text/event-stream", "request-id": "req_1"}
    assert loaded.interactions[0]["request"]["body"]["max_tokens"] == 3
    assert loaded.match("POST", "/v1/messages", request_body) is not None  # scrubbed on both sides


def test_open_missing_file_and_save_needs_a_path(tmp_path):
    cassette = Cassette.open(tmp_path / "new.json")
    assert len(cassette) == 0
    with pytest.raises(ValueError):
        Cassette().save()
    (tmp_path / "wrapped.json").write_text(json.dumps({"interactions": [
        {"request": {"method": "GET", "path": "/v1/models", "body": None},
         "response": {"status": 200, "headers": {}, "body": "{}"}}]}))
    assert Cassette.load(tmp_path / "wrapped.json").match("GET", "/v1/models", b"")["response"]["body"] == "{}"


def test_record_through_the_proxy_then_replay_byte_for_byte(server, tmp_path):
    path = tmp_path / "calls.json"
    secret = {"x-api-key": "sk-ant-api03-TOPSECRETKEY", "authorization": "Bearer sk-or-v1-TOPSECRETKEY"}
    streamed = {**body("record me", max_tokens=60), "stream": True}
    with start(record=path, upstream=server.base_url, pace=0, ttft=0) as recorder, \
            httpx.Client(base_url=recorder.base_url, headers=secret) as client:
        originals = [
            client.post("/v1/messages", json=body("record me")),
            client.post("/v1/messages", json=streamed),
            client.post("/api/v1/messages", json=body("record me", model="anthropic/claude-sonnet-4.6")),
            client.post("/v1/messages", json={"model": "m"}),
            client.get("/v1/models"),
        ]
    assert [r.status_code for r in originals] == [200, 200, 200, 400, 200]
    assert originals[1].text.endswith('event: message_stop\ndata: {"type":"message_stop"}\n\n')
    text = path.read_text()
    assert "TOPSECRETKEY" not in text and len(json.loads(text)) == 5
    with start(replay=path) as replayer, httpx.Client(base_url=replayer.base_url) as client:
        replayed = [
            client.post("/v1/messages", json=body("record me")),
            client.post("/v1/messages", json=streamed),
            client.post("/api/v1/messages", json=body("record me", model="anthropic/claude-sonnet-4.6")),
            client.post("/v1/messages", json={"model": "m"}),
            client.get("/v1/models"),
        ]
        for original, again in zip(originals, replayed, strict=True):
            assert (again.status_code, again.content) == (original.status_code, original.content)
            assert again.headers["content-type"] == original.headers["content-type"]
            assert again.headers["request-id"] == original.headers["request-id"]
        assert replayed[2].headers["x-generation-id"] == originals[2].headers["x-generation-id"]
        missing = client.post("/v1/messages", json=body("never recorded"))
        assert missing.status_code == 404 and error_of(missing)["type"] == "not_found_error"
        assert "no recorded interaction matches this request" in error_of(missing)["message"]


def test_the_proxy_does_not_import_the_server():
    import ast
    import inspect

    from nbmessages.local import proxy

    imported = {n.module for n in ast.walk(ast.parse(inspect.getsource(proxy))) if isinstance(n, ast.ImportFrom)}
    assert "server" not in imported and "intake" in imported  # the server picks the proxy's routes, one way
