"""``client.messages.batches`` over loopback HTTP against the embedded server: create, poll, results, validation."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from nbmessages.client.asynchronous import AsyncClient
from nbmessages.client.batches import BatchNotEndedError, parse_results
from nbmessages.client.errors import BadRequestError, MalformedStreamError
from nbmessages.client.sync import Client
from nbmessages.request.builder import Request
from nbmessages.types import RequestValidationError
from nbmessages.types.batches import (
    MessageBatch,
    MessageBatchErroredResult,
    MessageBatchSucceededResult,
)


@pytest.fixture()
def client(batch_server):
    with Client(base_url=batch_server.base_url, api_key="test", max_retries=0) as c:
        yield c


def items(n: int, prefix: str = "row", model: str = "claude-haiku-4-5") -> list[dict]:
    return [{"custom_id": f"{prefix}-{i}", "params": {"model": model, "max_tokens": 40, "messages": f"Say {i}"}}
            for i in range(n)]


def wait_ended(batches, batch_id: str, timeout: float = 20) -> MessageBatch:
    deadline = time.monotonic() + timeout
    while not (batch := batches.retrieve(batch_id)).ended:
        assert time.monotonic() < deadline, batch
        time.sleep(0.05)
    return batch


def test_create_poll_and_typed_results_out_of_order(client):
    created = client.messages.batches.create(items(30))
    assert created.id.startswith("msgbatch_") and created.processing_status == "in_progress"
    assert created.request_counts.processing == 30 and created.results_url is None
    ended = wait_ended(client.messages.batches, created.id)
    assert ended.request_counts.succeeded == 30 and ended.ended_at is not None
    assert ended.results_url.endswith(f"/v1/messages/batches/{created.id}/results")
    with client.messages.batches.results(created.id) as results:
        got = list(results)
    ids = [r.custom_id for r in got]
    assert sorted(ids) == sorted(f"row-{i}" for i in range(30)) and ids != [f"row-{i}" for i in range(30)]
    first = got[0]
    assert isinstance(first.result, MessageBatchSucceededResult) and first.message.usage.service_tier == "batch"
    assert first.message.text


def test_requests_may_be_request_objects(client):
    req = Request(model="claude-haiku-4-5", max_tokens=300, messages="From a Request")
    batch = client.messages.batches.create([{"custom_id": "obj", "params": req}])
    wait_ended(client.messages.batches, batch.id)
    (only,) = client.messages.batches.results(batch.id)
    assert "From a Request" in only.message.text


@pytest.mark.parametrize(("bad", "path", "words"), [
    ({"custom_id": "has space"}, "requests[3].custom_id", "1 to 64 characters"),
    ({"custom_id": "x" * 65}, "requests[3].custom_id", "1 to 64 characters"),
    ({"custom_id": "row-0"}, "requests[3].custom_id", "duplicate"),
    ({"params": {"model": "m", "max_tokens": 10, "messages": "hi", "stream": True}}, "requests[3].params.stream",
     "do not stream"),
    ({"params": {"model": "m", "max_tokens": 0, "messages": "hi"}}, "requests[3].params.max_tokens", "at least 1"),
    ({"params": {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": ""}]}},
     "requests[3].params.messages[0].content", "must not be empty"),
    ({"params": {"model": "m", "max_tokens": 10, "messages": "hi", "temprature": 1}},
     "requests[3].params.temprature", "did you mean 'temperature'"),
])
def test_invalid_batches_are_refused_before_sending(client, batch_server, bad, path, words):
    batch = items(5)
    batch[3] = {**batch[3], **bad}
    before = batch_server.requests_served
    with pytest.raises(RequestValidationError) as info:
        client.messages.batches.create(batch)
    assert info.value.path == path and words in str(info.value)
    assert batch_server.requests_served == before  # nothing was sent


def test_every_problem_is_named_at_once(client):
    batch = items(4)
    batch[1]["custom_id"] = "bad id"
    batch[2]["params"]["stream"] = True
    with pytest.raises(RequestValidationError) as info:
        client.messages.batches.create(batch)
    assert [p for p, _ in info.value.problems] == ["requests[1].custom_id", "requests[2].params.stream"]


def test_count_and_size_limits(client, monkeypatch):
    with pytest.raises(RequestValidationError, match="at least one request"):
        client.messages.batches.create([])
    too_many = [{"custom_id": "x", "params": {}}] * 100_001
    with pytest.raises(RequestValidationError, match="100,001 requests; a batch takes at most 100,000"):
        client.messages.batches.create(too_many)
    monkeypatch.setattr("nbmessages.types.batches.MAX_BATCH_BYTES", 2_000)
    with pytest.raises(RequestValidationError, match="MB: split it into several batches"):
        client.messages.batches.create(items(40))


def test_faults_mark_requests_errored(batch_server):
    with Client(base_url=batch_server.base_url, api_key="t", default_headers={"x-nbmessages-fault": "overloaded"}) as c:
        batch = c.messages.batches.create(items(3))
        ended = wait_ended(c.messages.batches, batch.id)
        results = list(c.messages.batches.results(batch.id))
    assert ended.request_counts.errored == 3
    assert all(isinstance(r.result, MessageBatchErroredResult) for r in results)
    assert results[0].result.error.error.type == "overloaded_error" and results[0].message is None


def test_an_invalid_request_ends_errored_on_the_server(client):
    # the server validates each request when it processes it, as the real API does
    body = {"requests": [{"custom_id": "ok", "params": {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "hi"}]}}, {"custom_id": "bad", "params": {"model": "m", "messages": []}}]}
    response = httpx.post(f"{client.base_url}/v1/messages/batches", json=body, headers=client.request_headers())
    assert response.status_code == 200
    wait_ended(client.messages.batches, response.json()["id"])
    results = {r.custom_id: r.result for r in client.messages.batches.results(response.json()["id"])}
    assert results["ok"].type == "succeeded" and results["bad"].type == "errored"
    assert results["bad"].error.error.type == "invalid_request_error"


def test_the_server_refuses_batch_rules_with_400(client):
    body = {"requests": [{"custom_id": "a b", "params": {"model": "m", "max_tokens": 5, "messages": "x",
                                                         "stream": True}}]}
    response = httpx.post(f"{client.base_url}/v1/messages/batches", json=body, headers=client.request_headers())
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "requests[0].custom_id" in message and "requests[0].params.stream" in message


def test_a_batch_can_be_made_to_expire(batch_server):
    with Client(base_url=batch_server.base_url, api_key="t",
                default_headers={"x-nbmessages-batch-expire": "0.5"}) as c:
        batch = c.messages.batches.create(items(10))
        ended = wait_ended(c.messages.batches, batch.id)
        kinds = sorted(r.result.type for r in c.messages.batches.results(batch.id))
    assert ended.request_counts.expired == 5 and kinds == ["expired"] * 5 + ["succeeded"] * 5


def test_cancel_then_delete(batch_server):
    with Client(base_url=batch_server.base_url, api_key="t",
                default_headers={"x-nbmessages-batch-delay": "30"}) as c:
        batch = c.messages.batches.create(items(4))
        with pytest.raises(BatchNotEndedError, match="has not ended"):
            c.messages.batches.results(batch.id)
        with pytest.raises(BadRequestError, match="still processing"):
            c.messages.batches.delete(batch.id)
        canceling = c.messages.batches.cancel(batch.id)
        assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    with Client(base_url=batch_server.base_url, api_key="t") as c:
        ended = wait_ended(c.messages.batches, batch.id, timeout=10)  # within one processing round of 3 s
        assert ended.request_counts.canceled == 4
        assert {r.result.type for r in c.messages.batches.results(batch.id)} == {"canceled"}
        deleted = c.messages.batches.delete(batch.id)
        assert deleted.id == batch.id and deleted.type == "message_batch_deleted"
        with pytest.raises(Exception, match="not found"):
            c.messages.batches.retrieve(batch.id)


def test_list_pages_newest_first(client):
    made = [client.messages.batches.create(items(1, prefix=f"l{i}")).id for i in range(3)]
    page = client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == made[::-1][:2] and page.has_more
    walked = [b.id for b in page]
    assert walked[:3] == made[::-1] and len(walked) == len(set(walked))
    before = client.messages.batches.list(limit=1, before_id=made[1])
    assert [b.id for b in before.data] == [made[2]]


def test_async_client(batch_server):
    async def run() -> tuple[list[str], list[str]]:
        async with AsyncClient(base_url=batch_server.base_url, api_key="t") as c:
            batch = await c.messages.batches.create(items(6, prefix="async"))
            while not (await c.messages.batches.retrieve(batch.id)).ended:
                await asyncio.sleep(0.05)
            results = await c.messages.batches.results(batch.id)
            ids = [r.custom_id async for r in results]
            listed = [b.id async for b in await c.messages.batches.list(limit=1)]
            return ids, listed

    ids, listed = asyncio.run(run())
    assert sorted(ids) == sorted(f"async-{i}" for i in range(6)) and len(listed) >= 1


def test_results_lines_parse_one_at_a_time():
    line = json.dumps({"custom_id": "a", "result": {"type": "canceled"}})
    parsed = parse_results(iter([line, "", json.dumps({"custom_id": "b", "result": {"type": "new_kind"}})]))
    first, second = list(parsed)
    assert first.result.type == "canceled" and second.result.type == "new_kind"  # unknown kinds are kept
    with pytest.raises(MalformedStreamError, match="line 2 is not a result"):
        list(parse_results(iter([line, "{not json"])))
    with pytest.raises(MalformedStreamError, match="custom_id"):
        list(parse_results(iter([json.dumps({"result": {"type": "expired"}})])))
