"""OpenRouter's documented additions, parsed from recorded-shape bodies (written from OpenRouter's docs, 2026-08).

Sources: docs repository ``api_reference/errors-and-debugging.mdx`` (availability examples, the Anthropic skin's
``error.error_type``), ``guides/features/router-metadata.mdx``, ``guides/features/response-caching.mdx``,
``app-attribution.mdx`` and ``openapi/openapi.yaml`` (``/key``, ``/generation``, ``ProviderPreferences``, plugins).
"""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from nbmessages import Client
from nbmessages.client import errors
from nbmessages.client.openrouter import Extras, categories
from nbmessages.client.retries import retry_delay, should_retry
from nbmessages.notebook.render import render_bundle
from nbmessages.notebook.render.status import Status, error_markdown
from nbmessages.request.profiles import OPENROUTER
from nbmessages.testing import sse
from nbmessages.types import Message
from nbmessages.types.openrouter import Availability, Generation, KeyInfo, ResponseCache, RouterMetadata

# -- recorded shapes (from the documentation's examples) -------------------------------------------------------

CAPACITY = {  # errors-and-debugging.mdx, "All providers at capacity", on the Anthropic skin's envelope
    "type": "error",
    "error": {
        "type": "rate_limit_error",
        "message": "All providers for anthropic/claude-sonnet-4.5 are at capacity. Retry after 40 seconds.",
        "error_type": "rate_limit_exceeded",
        "availability": {
            "code": "capacity_exhausted", "retryable": True, "retry_after": 40,
            "requested_models": ["anthropic/claude-sonnet-4.5"],
            "affected_providers": ["anthropic", "amazon-bedrock", "google-vertex"],
            "fallback_models": ["anthropic/claude-haiku-4.5"],
            "docs_url": "https://openrouter.ai/docs/errors#capacity_exhausted",
        },
    },
    "request_id": "gen-1739458867-kUKFjpDGCEBBvK6V46PX",
}
PRIVACY = {  # "Privacy restriction eliminated all endpoints" (the generic shape, verbatim)
    "error": {
        "message": "No endpoints for openai/gpt-5.2 match your data policy (zero data retention).",
        "error_type": "not_found", "http_status": 404,
        "availability": {
            "code": "privacy_restricted", "retryable": False, "requested_models": ["openai/gpt-5.2"],
            "affected_providers": ["openai", "azure"], "excluded_by": ["data_policy:zdr"],
            "docs_url": "https://openrouter.ai/docs/errors#privacy_restricted",
        },
    }
}
METADATA = {  # router-metadata.mdx, "Response Shape"
    "requested": "openai/gpt-4o-mini", "strategy": "direct", "region": "iad",
    "summary": "available=1, selected=OpenAI", "attempt": 1, "is_byok": False,
    "endpoints": {"total": 1, "available": [{"provider": "OpenAI", "model": "openai/gpt-4o-mini", "selected": True}]},
    "attempts": [{"provider": "OpenAI", "model": "openai/gpt-4o-mini", "status": 200}],
    "pipeline": [{"type": "context_compression", "name": "context-compression",
                  "data": {"engine": "middle-out", "input_type": "messages", "original_count": 42,
                           "compressed_count": 30}}],
}
KEY = {"data": {"label": "sk-or-v1-abc...", "limit": 25.0, "limit_remaining": 18.5, "limit_reset": "monthly",
                "usage": 6.5, "usage_daily": 0.5, "usage_weekly": 2.0, "usage_monthly": 6.5, "byok_usage": 0,
                "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0, "is_free_tier": False,
                "is_management_key": False, "is_provisioning_key": False, "include_byok_in_limit": False,
                "creator_user_id": None, "expires_at": None,
                "rate_limit": {"requests": -1, "interval": "10s", "note": "deprecated"}}}
GENERATION = {"data": {"id": "gen-123", "model": "anthropic/claude-sonnet-4.5", "total_cost": 0.00042,
                       "usage": 0.00042, "cache_discount": None, "upstream_inference_cost": None,
                       "provider_name": "Anthropic", "streamed": True, "cancelled": True, "tokens_prompt": 12,
                       "tokens_completion": 7, "finish_reason": None, "is_byok": False,
                       "created_at": "2026-08-22T05:01:58Z", "origin": "", "api_type": "completions"}}
OK = {"id": "msg_1", "type": "message", "role": "assistant", "model": "anthropic/claude-sonnet-4.5",
      "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
      "usage": {"input_tokens": 3, "output_tokens": 1}}


def _client(handler, **kw) -> Client:
    return Client(api_key="sk-or-test", base_url="https://openrouter.ai/api", ledger=False,
                  http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kw)


def _error(status: int, body: dict, headers: dict | None = None) -> errors.APIStatusError:
    return errors.error_from_response(httpx.Response(status, json=body, headers=headers))


# -- 1. availability errors --------------------------------------------------------------------------------------

def test_availability_is_parsed_into_the_typed_error() -> None:
    err = _error(429, CAPACITY)
    assert isinstance(err, errors.RateLimitError)
    assert err.error_type == "rate_limit_error" and err.canonical_type == "rate_limit_exceeded"
    assert isinstance(err.availability, Availability)
    assert err.availability.code == "capacity_exhausted" and err.availability.retry_after == 40
    assert err.availability.fallback_models == ["anthropic/claude-haiku-4.5"]
    generic = _error(404, PRIVACY)
    assert isinstance(generic, errors.NotFoundError) and generic.availability.excluded_by == ["data_policy:zdr"]
    assert generic.canonical_type == "not_found"


def test_availability_decides_retries_whatever_the_status() -> None:
    marked = json.loads(json.dumps(PRIVACY))
    marked["error"]["availability"].update(code="no_endpoints", retryable=True)
    assert should_retry(_error(404, marked))  # a 404 marked retryable is retried
    closed = {"error": {"message": "x", "error_type": "provider_overloaded",
                        "availability": {"code": "temporarily_unavailable", "retryable": False,
                                         "requested_models": ["m"], "docs_url": "u"}}}
    assert not should_retry(_error(503, closed))  # a 503 marked not retryable is not
    assert not should_retry(_error(404, PRIVACY)) and should_retry(_error(503, {"error": {"message": "x"}}))


def test_retry_after_of_the_body_comes_before_the_header() -> None:
    err = _error(429, CAPACITY, headers={"retry-after": "3"})
    assert retry_delay(0, err.headers, err.availability.retry_after) == 40
    assert retry_delay(0, err.headers) == 3
    for nonsense in (float("inf"), float("nan"), -1.0):  # read as a header's hint is: the header's value instead
        assert retry_delay(0, err.headers, nonsense) == 3


def test_a_retryable_404_is_sent_again_and_then_succeeds() -> None:
    marked = json.loads(json.dumps(PRIVACY))
    marked["error"]["availability"].update(code="no_endpoints", retryable=True, retry_after=0)
    answers = [httpx.Response(404, json=marked), httpx.Response(200, json=OK)]
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    message = _client(handler).messages.create(model="m", max_tokens=5, messages="hi")
    assert message.text == "ok" and len(seen) == 2


def test_a_mid_stream_availability_error_is_typed() -> None:
    events = [{"type": "message_start", "message": {**OK, "content": [], "stop_reason": None}},
              {"type": "error", "error": CAPACITY["error"]}]
    client = _client(lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(events)))
    with pytest.raises(errors.StreamEventError) as caught, client.messages.stream(model="m", max_tokens=5,
                                                                                    messages="hi") as s:
        s.until_done()
    assert caught.value.error_type == "rate_limit_error" and caught.value.canonical_type == "rate_limit_exceeded"
    assert caught.value.availability.code == "capacity_exhausted"


def test_the_error_box_names_the_code_and_offers_the_fallbacks_as_models() -> None:
    box = error_markdown(_error(429, CAPACITY))
    assert "`capacity_exhausted` (retryable after 40 s)" in box
    assert "`--models anthropic/claude-haiku-4.5`" in box
    assert "excluded by: data_policy:zdr" in error_markdown(_error(404, PRIVACY))


def test_a_malformed_availability_does_not_hide_the_error() -> None:
    err = _error(404, {"error": {"message": "gone", "availability": {"retryable": "perhaps"}}})
    assert err.availability is None and err.message == "gone"


# -- 2. response caching -----------------------------------------------------------------------------------------

def test_cache_headers_are_read_and_sent() -> None:
    hit = ResponseCache.from_headers(httpx.Headers({"X-OpenRouter-Cache-Status": "HIT", "X-OpenRouter-Cache-Age": "12",
                                                    "X-OpenRouter-Cache-TTL": "288",
                                                    "X-OpenRouter-Cache-Source-Id": "gen-abc123"}))
    assert hit is not None and hit.hit and hit.age == 12 and hit.ttl == 288 and hit.source_id == "gen-abc123"
    assert ResponseCache.from_headers(httpx.Headers()) is None
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=OK, headers={"x-openrouter-cache-status": "MISS"})

    client = _client(handler, openrouter_cache=600)
    message = client.messages.create(model="m", max_tokens=5, messages="hi")
    assert sent[0].headers["x-openrouter-cache"] == "true" and sent[0].headers["x-openrouter-cache-ttl"] == "600"
    assert message.response_cache.status == "MISS"
    client.messages.create(model="m", max_tokens=5, messages="hi", openrouter_cache=False)
    assert sent[1].headers["x-openrouter-cache"] == "false" and "x-openrouter-cache-ttl" not in sent[1].headers
    client.messages.create(model="m", max_tokens=5, messages="hi", openrouter_cache_clear=True)
    assert sent[2].headers["x-openrouter-cache-clear"] == "true"


def test_cached_bodies_are_serialised_deterministically() -> None:
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json=OK)

    client = _client(handler, openrouter_cache=True)
    schema_a = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}}
    schema_b = {"properties": {"b": {"type": "number"}, "a": {"type": "string"}}, "type": "object"}
    tool = {"name": "t", "description": "d"}
    client.messages.create(model="m", max_tokens=5, messages="hi", tools=[{**tool, "input_schema": schema_a}])
    client.messages.create(model="m", max_tokens=5, messages="hi", tools=[{**tool, "input_schema": schema_b}])
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize("ttl", [0, 86_401, 1.5, "300"])
def test_a_cache_ttl_out_of_range_is_refused_before_sending(ttl) -> None:
    with pytest.raises(ValueError, match="openrouter_cache"):
        _client(lambda r: httpx.Response(200, json=OK), openrouter_cache=ttl)


def test_caching_is_not_sent_to_anthropic() -> None:
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=OK)

    client = Client(api_key="sk-ant-x", base_url="https://api.anthropic.com", ledger=False, openrouter_cache=True,
                    app_url="https://example.com", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.warns(UserWarning, match="OpenRouter-only"):
        client.messages.create(model="m", max_tokens=5, messages="hi")
    assert not [h for h in sent[0].headers if h.startswith("x-openrouter") or h == "http-referer"]


def test_the_footer_shows_a_hit() -> None:
    message = Message.model_validate({**OK, "usage": {"input_tokens": 0, "output_tokens": 0}})
    message.note_response_cache(ResponseCache(status="HIT", age=3, ttl=297))
    text = render_bundle(message, Status(response_cache=message.response_cache, cost=0.0))["text/plain"]
    assert "response cache HIT (free)" in text and "$0.0000" in text


# -- 3. router metadata ------------------------------------------------------------------------------------------

def test_router_metadata_is_typed_and_summarised() -> None:
    router = RouterMetadata.model_validate(METADATA)
    assert router.selected.provider == "OpenAI"
    assert router.headline() == "served by OpenAI (openai/gpt-4o-mini), strategy direct, region iad"
    assert any("context-compression" in line for line in router.detail_lines())
    fallback = RouterMetadata.model_validate({**METADATA, "attempt": 2})
    assert "attempt 2" in fallback.headline()


def test_router_metadata_is_folded_under_the_answer() -> None:
    message = Message.model_validate({**OK, "openrouter_metadata": METADATA})
    assert message.router.requested == "openai/gpt-4o-mini"
    md = render_bundle(message)["text/markdown"]
    assert "<details><summary>Routing: served by OpenAI" in md and "attempt: OpenAI openai/gpt-4o-mini → 200" in md
    assert "Routing:" not in render_bundle(Message.model_validate(OK))["text/markdown"]


def test_the_metadata_header_is_sent_when_asked() -> None:
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=OK)

    client = _client(handler)
    client.messages.create(model="m", max_tokens=5, messages="hi", openrouter_metadata=True)
    client.messages.create(model="m", max_tokens=5, messages="hi")
    assert sent[0].headers["x-openrouter-metadata"] == "enabled" and "x-openrouter-metadata" not in sent[1].headers


# -- 6. attribution, key, generation -----------------------------------------------------------------------------

def test_attribution_headers_on_openrouter() -> None:
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=OK)

    client = _client(handler, app_url="https://myapp.example", app_title="My Notebook",
                     app_categories=["general-chat", "writing-assistant"])
    client.messages.create(model="m", max_tokens=5, messages="hi")
    headers = sent[0].headers
    assert headers["http-referer"] == "https://myapp.example" and headers["x-openrouter-title"] == "My Notebook"
    assert headers["x-openrouter-categories"] == "general-chat,writing-assistant"


def test_categories_are_checked() -> None:
    assert categories("cli-agent, cloud-agent") == ["cli-agent", "cloud-agent"]
    with pytest.raises(ValueError, match="did you mean 'cli-agent'"):
        categories("cli-agnet")
    with pytest.raises(ValueError, match="at most 2"):
        categories("cli-agent,game,legal")
    with pytest.raises(ValueError, match="app_url"):
        Extras.of_client(app_url="myapp.example")


def test_key_and_generation_are_read() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # attribution on every request; the cache and metadata headers only on message calls
        assert request.headers["http-referer"] == "https://myapp.example"
        assert "x-openrouter-cache" not in request.headers and "x-openrouter-metadata" not in request.headers
        if request.url.path == "/api/v1/key":
            return httpx.Response(200, json=KEY)
        assert request.url.path == "/api/v1/generation" and request.url.params["id"] == "gen-123"
        return httpx.Response(200, json=GENERATION)

    client = _client(handler, app_url="https://myapp.example", openrouter_cache=True, openrouter_metadata=True)
    key = client.openrouter.key()
    assert isinstance(key, KeyInfo) and key.limit == 25.0 and key.limit_remaining == 18.5 and key.usage == 6.5
    gen = client.openrouter.generation("gen-123")
    assert isinstance(gen, Generation) and gen.total_cost == 0.00042 and gen.cancelled


def test_key_is_openrouter_only() -> None:
    client = Client(api_key="sk-ant-x", base_url="https://api.anthropic.com", ledger=False)
    with pytest.raises(ValueError, match="OpenRouter"):
        client.openrouter.key()


# -- 4. plugins as documented ------------------------------------------------------------------------------------

PUBLISHED_PLUGIN_IDS = {  # OpenAPI MessagesRequest.plugins discriminator mapping (2026-08-22)
    "auto-beta-router", "auto-router", "context-compression", "file-parser", "fusion", "moderation",
    "pareto-router", "response-healing", "web", "web-fetch",
}


def test_the_documented_plugin_ids_and_no_others() -> None:
    from nbmessages.types import KNOWN_PLUGINS

    assert set(KNOWN_PLUGINS) == PUBLISHED_PLUGIN_IDS


@pytest.mark.parametrize(("plugin", "words"), [
    ({"id": "response-healin"}, "did you mean 'response-healing'"),
    ({"id": "armor"}, "extra_body"),
    ({"id": "web", "max_result": 3}, "did you mean 'max_results'"),
    ({"id": "file-parser", "pdf": {"engine": "tesseract"}}, "pdf.engine of the 'file-parser' plugin"),
    ({"id": "fusion", "max_tool_calls": 17}, "max_tool_calls"),
])
def test_plugins_are_checked_before_sending(plugin, words) -> None:
    from nbmessages import Request
    from nbmessages.types import RequestValidationError

    with pytest.raises(RequestValidationError, match="plugins\\[0\\]") as caught:
        Request(model="m", max_tokens=5, messages="x", plugins=[plugin])
    assert words in str(caught.value)


def test_a_plugin_turned_off_and_a_later_id_through_extra_body() -> None:
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=OK)

    client = _client(handler)
    client.messages.create(model="m", max_tokens=5, messages="x", plugins=[{"id": "web", "enabled": False}])
    assert sent[-1]["plugins"] == [{"id": "web", "enabled": False}]
    client.messages.create(model="m", max_tokens=5, messages="x", extra_body={"plugins": [{"id": "armor"}]})
    assert sent[-1]["plugins"] == [{"id": "armor"}]


def _fresh_profile(name: str):
    """The OpenRouter profile under a new name: its once-per-process warnings have not been shown yet."""
    return dataclasses.replace(OPENROUTER, name=f"openrouter-{name}")


def test_web_is_deprecated_once_with_the_tool_to_write_instead(recwarn) -> None:
    client = _client(lambda r: httpx.Response(200, json=OK), profile=_fresh_profile("web"))
    plugin = {"id": "web", "max_results": 3, "include_domains": ["example.com"]}
    client.messages.create(model="m", max_tokens=5, messages="x", plugins=[plugin])
    client.messages.create(model="m", max_tokens=5, messages="x", plugins=[plugin])
    notes = [str(w.message) for w in recwarn if "deprecated" in str(w.message)]
    assert len(notes) == 1 and "openrouter:web_search" in notes[0]
    assert "'allowed_domains': ['example.com']" in notes[0] and "'max_results': 3" in notes[0]


def test_response_healing_does_not_run_on_streams(recwarn) -> None:
    events = [{"type": "message_start", "message": {**OK, "content": [], "stop_reason": None}},
              {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
              {"type": "message_stop"}]
    client = _client(lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(events)),
                     profile=_fresh_profile("healing"))
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with client.messages.stream(model="m", max_tokens=5, messages="x", plugins=[{"id": "response-healing"}],
                                output_config={"format": {"type": "json_schema", "schema": schema}}) as s:
        s.until_done()
    assert any("runs only on non-streaming" in str(w.message) for w in recwarn)


# -- 5. provider preferences exactly as published ----------------------------------------------------------------

PUBLISHED_PROVIDER_KEYS = {  # OpenAPI ProviderPreferences (additionalProperties: false), 2026-08-22
    "allow_fallbacks", "data_collection", "enforce_distillable_text", "ignore", "max_price", "only", "order",
    "preferred_max_latency", "preferred_min_throughput", "quantizations", "require_parameters", "sort", "zdr",
}


def test_provider_preferences_are_exactly_the_published_schema() -> None:
    from nbmessages.types.params import ProviderPreferences

    assert set(ProviderPreferences.model_fields) == PUBLISHED_PROVIDER_KEYS


def test_provider_options_is_refused_naming_the_allowed_keys() -> None:
    from nbmessages import Request
    from nbmessages.types import RequestValidationError

    with pytest.raises(RequestValidationError, match="provider.options: not in OpenRouter's published") as caught:
        Request(model="m", max_tokens=5, messages="x", provider={"options": {"anthropic": {}}})
    assert "allowed: order, only" in str(caught.value)
    with pytest.raises(RequestValidationError, match="did you mean 'order'"):
        Request(model="m", max_tokens=5, messages="x", provider={"ordr": ["anthropic"]})


def test_every_published_provider_shape_is_accepted() -> None:
    from nbmessages import Request

    provider = {"order": ["anthropic", "Amazon Bedrock"], "only": ["anthropic"], "ignore": ["azure"],
                "allow_fallbacks": False, "require_parameters": True, "data_collection": "deny", "zdr": True,
                "enforce_distillable_text": True, "quantizations": ["fp8", "bf16"],
                "sort": {"by": "throughput", "partition": "none"}, "max_price": {"prompt": "1", "completion": 2},
                "preferred_max_latency": {"p50": 1, "p90": 3}, "preferred_min_throughput": 100}
    sent = Request(model="m", max_tokens=5, messages="x", provider=provider).to_dict()["provider"]
    assert sent["sort"] == {"by": "throughput", "partition": "none"} and sent["max_price"]["completion"] == "2"
    assert Request(model="m", max_tokens=5, messages="x", provider={"sort": "price"}).to_dict()["provider"] == {
        "sort": "price"}
