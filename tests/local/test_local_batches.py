"""The embedded server's Message Batches, seen by the official ``anthropic`` SDK and over plain HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import anthropic
import httpx
import pytest
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse


@pytest.fixture(scope="module")
def sdk(batch_server):
    return anthropic.Anthropic(api_key="test", base_url=batch_server.base_url, max_retries=0)


def requests(n: int) -> list[dict]:
    return [{"custom_id": f"q{i}", "params": {"model": "claude-haiku-4-5", "max_tokens": 64,
                                              "messages": [{"role": "user", "content": f"Question {i}"}]}}
            for i in range(n)]


def ended(sdk, batch_id: str) -> MessageBatch:
    deadline = time.monotonic() + 20
    while (batch := sdk.messages.batches.retrieve(batch_id)).processing_status != "ended":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return batch


def test_sdk_create_retrieve_results(sdk):
    batch = sdk.messages.batches.create(requests=requests(8))
    assert isinstance(batch, MessageBatch) and batch.processing_status == "in_progress"
    done = ended(sdk, batch.id)
    assert done.request_counts.succeeded == 8 and done.results_url and done.ended_at >= done.created_at
    results = list(sdk.messages.batches.results(batch.id))
    assert all(isinstance(r, MessageBatchIndividualResponse) for r in results)
    assert sorted(r.custom_id for r in results) == sorted(f"q{i}" for i in range(8))
    assert {r.result.type for r in results} == {"succeeded"}
    assert results[0].result.message.usage.service_tier == "batch"


def test_sdk_list_cancel_delete(sdk, batch_server):
    slow = anthropic.Anthropic(api_key="t", base_url=batch_server.base_url, max_retries=0,
                               default_headers={"x-nbmessages-batch-delay": "20"})
    batch = slow.messages.batches.create(requests=requests(2))
    assert [b.id for b in sdk.messages.batches.list(limit=1).data] == [batch.id]
    assert batch.id in [b.id for b in sdk.messages.batches.list(limit=1)]  # the SDK's auto-paging
    assert sdk.messages.batches.cancel(batch.id).processing_status == "canceling"
    deadline = time.monotonic() + 10
    while sdk.messages.batches.retrieve(batch.id).processing_status != "ended":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert {r.result.type for r in sdk.messages.batches.results(batch.id)} == {"canceled"}
    assert sdk.messages.batches.delete(batch.id).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.retrieve(batch.id)


def test_sdk_sees_errored_and_expired(batch_server):
    faulty = anthropic.Anthropic(api_key="t", base_url=batch_server.base_url, max_retries=0,
                                 default_headers={"x-nbmessages-fault": "server_error",
                                                  "x-nbmessages-batch-expire": "0.5"})
    batch = faulty.messages.batches.create(requests=requests(4))
    done = ended(faulty, batch.id)
    assert (done.request_counts.errored, done.request_counts.expired) == (2, 2)
    kinds = {r.result.type: r.result for r in faulty.messages.batches.results(batch.id)}
    assert set(kinds) == {"errored", "expired"} and kinds["errored"].error.error.type == "api_error"


def test_bad_headers_and_unknown_batches(batch_server):
    with httpx.Client(base_url=batch_server.base_url) as http:
        body = {"requests": requests(1)}
        bad = http.post("/v1/messages/batches", json=body, headers={"x-nbmessages-batch-delay": "soon"})
        assert bad.status_code == 400 and "x-nbmessages-batch-delay" in bad.json()["error"]["message"]
        bad = http.post("/v1/messages/batches", json=body, headers={"x-nbmessages-batch-expire": "2"})
        assert bad.status_code == 400 and "<= 1" in bad.json()["error"]["message"]
        missing = http.get("/v1/messages/batches/msgbatch_nope/results")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
        assert http.get("/v1/messages/batches", params={"limit": 0}).status_code == 400


def test_serve_takes_batch_delay():
    code = ("import sys; from nbmessages.__main__ import build_parser; "
            "a = build_parser().parse_args(['serve', '--batch-delay', '0.5']); print(a.batch_delay)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0.5"


def test_openrouter_beta_batches_over_http(batch_server):
    item = {"custom_id": "o1", "body": {"max_tokens": 32, "messages": [{"role": "user", "content": "Say hello."}]}}
    with httpx.Client(base_url=batch_server.base_url) as http:
        late = http.post("/api/beta/batches", content=b'{"requests": [], "endpoint": "/v1/messages", "model": "m"}')
        assert late.status_code == 400 and "before requests" in late.json()["error"]["message"]
        image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
        pic = {"custom_id": "p", "body": {"max_tokens": 5, "messages": [{"role": "user", "content": [image]}]}}
        refused = http.post("/api/beta/batches", json={"endpoint": "/v1/messages", "model": "m", "requests": [pic]})
        assert refused.status_code == 400 and "text-only" in refused.json()["error"]["message"]
        made = http.post("/api/beta/batches", json={"endpoint": "/v1/messages", "model": "anthropic/claude-haiku-4.5",
                                                     "requests": [item]})
        assert made.status_code == 202 and made.json()["status"] == "validating"
        batch_id = made.json()["id"]
        deadline = time.monotonic() + 10
        while (got := http.get(f"/api/beta/batches/{batch_id}").json())["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (result,) = got["results"]
        assert result["custom_id"] == "o1" and result["error"] is None
        assert result["response"]["body"]["type"] == "message" and got["usage"]["cost"] > 0
        listed = http.get("/api/beta/batches", params={"limit": 1}).json()
        assert listed["data"][0]["id"] == batch_id and listed["data"][0]["results"] is None
