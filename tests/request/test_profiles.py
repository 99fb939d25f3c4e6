"""Profiles and configuration: where requests go, how they authenticate, which fields each backend gets."""

from __future__ import annotations

import json
import warnings

import httpx
import pytest

from nbmessages import Client, Profile, Request, RequestValidationError
from nbmessages.client.config import configured_keys, resolve
from nbmessages.request.profiles import guess_profile
from nbmessages.testing import message_events, sse

OK = {"id": "msg_1", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
      "usage": {"input_tokens": 1, "output_tokens": 1}}


class Capture:
    """A transport that keeps every request it sees and answers OK."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("count_tokens"):
            return httpx.Response(200, json={"input_tokens": 7})
        if json.loads(request.content).get("stream"):
            return httpx.Response(200, content=sse(message_events([{"type": "text", "text": "ok"}])),
                                  headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=OK)

    @property
    def body(self) -> dict:
        return json.loads(self.requests[-1].content)


def client(capture: Capture, **kw) -> Client:
    return Client(http_client=httpx.Client(transport=httpx.MockTransport(capture)), ledger=False, **kw)


def test_anthropic_profile_headers_and_url():
    cap = Capture()
    client(cap, api_key="sk-ant-test", profile="anthropic").messages.create(model="m", max_tokens=5, messages="hi")
    request = cap.requests[0]
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test" and "authorization" not in request.headers
    assert request.headers["anthropic-version"] == "2023-06-01"


def test_openrouter_profile_headers_url_and_attribution():
    cap = Capture()
    c = client(cap, api_key="sk-or-test", default_headers={"HTTP-Referer": "https://example.org", "X-Title": "nb"})
    assert c.profile.name == "openrouter"
    c.messages.create(model="anthropic/claude-sonnet-4.5", max_tokens=5, messages="hi",
                      provider={"order": ["anthropic"], "allow_fallbacks": False}, session_id="s1",
                      models=["anthropic/claude-haiku-4.5"], trace={"trace_id": "t1", "custom": 1},
                      plugins=[{"id": "response-healing"}], user="u1")
    request = cap.requests[0]
    assert str(request.url) == "https://openrouter.ai/api/v1/messages"
    assert request.headers["authorization"] == "Bearer sk-or-test" and "x-api-key" not in request.headers
    assert request.headers["http-referer"] == "https://example.org"
    body = cap.body
    assert body["provider"] == {"order": ["anthropic"], "allow_fallbacks": False}
    assert body["trace"] == {"trace_id": "t1", "custom": 1} and body["session_id"] == "s1"


def test_openrouter_only_fields_never_reach_anthropic():
    cap = Capture()
    c = client(cap, api_key="sk-ant-test", profile="anthropic")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c.messages.create(model="m", max_tokens=5, messages="hi", session_id="s", provider={"zdr": True})
    assert "session_id" not in cap.body and "provider" not in cap.body
    assert any("OpenRouter-only" in str(w.message) for w in caught)


def test_service_tier_values_follow_the_profile():
    cap = Capture()
    with pytest.raises(RequestValidationError, match="service_tier.*'auto', 'standard_only'"):
        client(cap, api_key="k", profile="anthropic").messages.create(model="m", max_tokens=5, messages="x",
                                                                      service_tier="flex")
    client(cap, api_key="k", profile="openrouter").messages.create(model="m", max_tokens=5, messages="x",
                                                                   service_tier="flex")
    assert not cap.requests[:-1]


def test_version_2026_refuses_removed_sampling_fields_before_sending():
    cap = Capture()
    c = client(cap, api_key="k", profile="anthropic", anthropic_version="2026-10-21")
    with pytest.raises(RequestValidationError, match="temperature: was removed in anthropic-version 2026-10-21"):
        c.messages.create(model="m", max_tokens=5, messages="x", temperature=0.3)
    assert cap.requests == []
    c.messages.create(model="m", max_tokens=5, messages="x")
    assert cap.requests[0].headers["anthropic-version"] == "2026-10-21"
    with pytest.raises(ValueError, match="anthropic_version"):
        client(cap, api_key="k", anthropic_version="2024-01-01")


def test_validation_errors_are_raised_before_any_request():
    cap = Capture()
    c = client(cap, api_key="k", profile="anthropic")
    with pytest.raises(RequestValidationError):
        c.messages.create(model="m", max_tokens=5, messages="x", top_k=0)
    with pytest.raises(RequestValidationError):
        c.messages.stream(model="m", max_tokens=5, messages="x", temperature=9)
    assert cap.requests == []


def test_count_tokens_sends_only_its_fields():
    cap = Capture()
    count = client(cap, api_key="k", profile="anthropic").messages.count_tokens(model="m", messages="hello",
                                                                                system="be brief")
    assert count.input_tokens == 7
    assert cap.body == {"model": "m", "messages": [{"role": "user", "content": "hello"}], "system": "be brief"}
    assert str(cap.requests[0].url).endswith("/v1/messages/count_tokens")


def test_large_max_tokens_streams_under_the_hood():
    cap = Capture()
    message = client(cap, api_key="k", profile="anthropic").messages.create(model="m", max_tokens=64000,
                                                                            messages="long essay")
    assert cap.body["stream"] is True and message.text == "ok"


def test_extra_body_is_sent():
    cap = Capture()
    client(cap, api_key="k", profile="anthropic").messages.create(model="m", max_tokens=5, messages="x",
                                                                  extra_body={"new_api_field": {"a": 1}})
    assert cap.body["new_api_field"] == {"a": 1}


def test_configuration_from_environment(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-env")
    settings = resolve()
    assert settings.profile.name == "openrouter" and settings.base_url == "https://openrouter.ai/api"
    assert settings.api_key.get_secret_value() == "sk-or-env"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    assert resolve().profile.name == "anthropic"
    assert resolve(profile="openrouter").api_key.get_secret_value() == "sk-or-env"
    monkeypatch.setenv("NBMESSAGES_BASE_URL", "http://localhost:4000")
    assert resolve().profile.name == "compatible" and resolve().base_url == "http://localhost:4000"
    assert resolve(base_url="http://127.0.0.1:9/api").profile.name == "openrouter"
    assert configured_keys()["ANTHROPIC_API_KEY"] is True


def test_profile_guess_and_custom_profile():
    assert guess_profile("https://openrouter.ai/api").name == "openrouter"
    assert guess_profile("https://api.anthropic.com").name == "anthropic"
    assert guess_profile("http://localhost:8000").name == "compatible"
    custom = Profile("mygateway", base_url="http://gateway.test", auth="bearer", extra_headers={"x-team": "a"})
    cap = Capture()
    client(cap, api_key="k", profile=custom).messages.create(model="m", max_tokens=5, messages="x")
    assert str(cap.requests[0].url) == "http://gateway.test/v1/messages"
    assert cap.requests[0].headers["x-team"] == "a"
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        resolve(profile="nope")


def test_the_body_sent_is_exactly_the_request_body():
    cap = Capture()
    req = Request(model="m", max_tokens=5, messages="x", system="be brief", temperature=0.2,
                  stop_sequences=["END"], metadata={"user_id": "u-1"}, extra_body={"later_field": True})
    client(cap, api_key="k", profile="anthropic").messages.create(req)
    assert cap.body == req.to_body()


def test_backend_capabilities_are_profile_fields():
    from dataclasses import replace

    from nbmessages.ledger import prices
    from nbmessages.request.profiles import ANTHROPIC, LOCAL, OPENROUTER, profile_for_key, profile_of

    assert profile_for_key("sk-or-v1-x") is OPENROUTER and profile_for_key("sk-ant-x") is ANTHROPIC
    assert OPENROUTER.serves("https://eu.openrouter.ai/api") and OPENROUTER.serves("http://127.0.0.1:9/api")
    assert not ANTHROPIC.serves("https://notanthropic.com") and ANTHROPIC.serves("api.anthropic.com")
    assert profile_of("compatible", "api.anthropic.com") is ANTHROPIC and profile_of("local", "127.0.0.1") is LOCAL
    # a backend of one's own gets the behaviour of the fields it sets, whatever its name
    mine = replace(OPENROUTER, name="my-router")
    cap = Capture()
    client(cap, api_key="k", profile=mine, anthropic_version="2026-10-21").messages.create(
        model="m", max_tokens=5, messages="x", temperature=0.5)  # it ignores anthropic-version, like OpenRouter
    assert len(cap.requests) == 1
    assert prices.provider_id("openrouter", None) == OPENROUTER.price_provider
