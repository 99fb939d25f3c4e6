"""Batches on the OpenRouter profile: the beta ``/api/beta/batches`` behind the same client calls."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from nbmessages.client.sync import Client
from nbmessages.types import RequestValidationError

MODEL = "anthropic/claude-haiku-4.5"
IMAGE = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}



@pytest.fixture()
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture()
def client(batch_server, sent):
    http = httpx.Client(event_hooks={"request": [sent.append]})
    with Client(base_url=batch_server.openrouter_base_url, api_key="test", http_client=http, max_retries=0) as c:
        assert c.profile.name == "openrouter"
        yield c


def items(n: int, model: str = MODEL) -> list[dict]:
    return [{"custom_id": f"or-{i}", "params": {"model": model, "max_tokens": 40, "messages": f"Hi {i}"}}
            for i in range(n)]


def test_create_sends_endpoint_and_model_before_requests(client, sent):
    batch = client.messages.batches.create(items(3))
    assert batch.processing_status == "in_progress" and batch.status == "validating"
    assert sent[-1].url.path == "/api/beta/batches"
    body = sent[-1].content.decode()
    assert list(json.loads(body)) == ["endpoint", "model", "requests"]
    assert json.loads(body)["endpoint"] == "/v1/messages" and json.loads(body)["model"] == MODEL
    assert json.loads(body)["requests"][0]["custom_id"] == "or-0" and "body" in json.loads(body)["requests"][0]


def test_results_come_inline_as_typed_results(client):
    batch = client.messages.batches.create(items(4))
    deadline = time.monotonic() + 10
    while not (got := client.messages.batches.retrieve(batch.id)).ended:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert got.status == "completed" and got.request_counts.succeeded == 4 and got.request_counts.processing == 0
    results = list(client.messages.batches.results(batch.id))
    assert sorted(r.custom_id for r in results) == [f"or-{i}" for i in range(4)]
    assert all(r.result.type == "succeeded" and r.message.usage.cost > 0 for r in results)
    assert client.messages.batches.list(limit=1).data[0].id == batch.id


def test_images_and_documents_are_refused_before_sending(client, sent):
    batch = items(3)
    batch[1]["params"]["messages"] = [{"role": "user", "content": ["Describe this", IMAGE]}]
    with pytest.raises(RequestValidationError) as info:
        client.messages.batches.create(batch)
    assert info.value.path == "requests[1].params.messages[0].content[1]" and "text-only" in str(info.value)
    assert sent == []


def test_one_model_per_batch(client, sent):
    batch = items(2)
    batch[1]["params"]["model"] = "anthropic/claude-sonnet-4.6"
    with pytest.raises(RequestValidationError, match="takes one model") as info:
        client.messages.batches.create(batch)
    assert info.value.path == "requests[1].params.model" and sent == []


def test_what_openrouter_does_not_document_is_refused(client, sent):
    with pytest.raises(NotImplementedError, match="documents no cancel endpoint"):
        client.messages.batches.cancel("batch_x")
    with pytest.raises(NotImplementedError, match="documents no delete endpoint"):
        client.messages.batches.delete("batch_x")
    with pytest.raises(ValueError, match="pages forward only"):
        client.messages.batches.list(before_id="batch_x")
    assert sent == []
