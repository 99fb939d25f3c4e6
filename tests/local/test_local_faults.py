"""Fault injection: HTTP errors, broken streams, ``times=N`` per body, server-wide faults at a rate."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import pytest
from local_fixtures import body, error_of, sse_events, stream

from nbmessages.local import start
from nbmessages.local.faults import FaultPlan, parse_fault


def fault(name: str) -> dict[str, str]:
    return {"x-nbmessages-fault": name}


@pytest.mark.parametrize(("spec", "status", "kind"), [
    ("rate_limit", 429, "rate_limit_error"), ("overloaded", 529, "overloaded_error"),
    ("server_error", 500, "api_error"), ("bad_gateway", 502, "api_error"),
])
def test_http_faults(http, spec, status, kind):
    for payload in (body(spec), {**body(spec), "stream": True}):
        response = http.post("/v1/messages", json=payload, headers=fault(spec))
        assert response.status_code == status and error_of(response)["type"] == kind
        assert response.headers["request-id"].startswith("req_")


def test_rate_limit_retry_after(http):
    assert http.post("/v1/messages", json=body("r"), headers=fault("rate_limit")).headers["retry-after"] == "1"
    quick = http.post("/v1/messages", json=body("r"), headers=fault("rate_limit;retry_after=0.1"))
    assert quick.headers["retry-after"] == "0.1"


def test_times_counts_per_body(http):
    spec = fault("server_error;times=2")
    statuses = [http.post("/v1/messages", json=body("flaky call"), headers=spec).status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert http.post("/v1/messages", json=body("another body"), headers=spec).status_code == 500


def test_sdk_retries_through_a_flaky_server(server):
    client = anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=2,
                                 default_headers=fault("server_error;times=2;retry_after=0.01"))
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=50,
                                     messages=[{"role": "user", "content": "retry me"}])
    assert message.stop_reason in ("end_turn", "max_tokens")
    client = anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=1,
                                 default_headers=fault("overloaded;times=5;retry_after=0.01"))
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "always busy"}])
    assert caught.value.status_code == 529


def test_disconnect_mid_stream(http):
    received = []
    with pytest.raises(httpx.RemoteProtocolError):  # noqa: PT012 - the break shows while reading
        with http.stream("POST", "/v1/messages", json={**body("drop me"), "stream": True},
                         headers=fault("disconnect;after=4")) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                received.append(line)
    events = [line for line in received if line.startswith("event: ")]
    assert events and "event: message_stop" not in events


def test_disconnect_without_a_response(http):
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/v1/messages", json=body("drop"), headers=fault("disconnect"))
    assert http.post("/v1/messages", json=body("still up")).status_code == 200


def test_error_event_mid_stream(http):
    events = sse_events(stream(http, body("boom " * 20), headers=fault("error_event")).text)
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "overloaded_error"
    assert any(e.get("delta", {}).get("type") == "text_delta" for e in events)
    assert "message_stop" not in [e["type"] for e in events]
    whole = http.post("/v1/messages", json=body("boom"), headers=fault("error_event"))
    assert whole.status_code == 529


def test_malformed_event(http):
    text = stream(http, body("bad json " * 10), headers=fault("malformed;after=5")).text
    frames = [f for f in text.split("\n\n") if f.strip()]
    bad = [f for f in frames if "data: " in f and not _parses(f.split("data: ", 1)[1])]
    assert len(bad) == 1 and frames.index(bad[0]) == 5
    assert frames[-1].startswith("event: message_stop")
    whole = http.post("/v1/messages", json=body("bad"), headers=fault("malformed"))
    assert whole.status_code == 200 and not _parses(whole.text)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_stall_keeps_the_connection_open(http, server):
    began = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):  # noqa: PT012
        with http.stream("POST", "/v1/messages", json={**body("stall"), "stream": True}, headers=fault("stall"),
                         timeout=httpx.Timeout(5, read=0.5)) as response:
            for _ in response.iter_lines():
                pass
    assert time.perf_counter() - began >= 0.5  # held open until the client gave up
    _wait_for(lambda: server.active_streams == 0)
    capped = stream(http, body("short stall"), headers=fault("stall;seconds=0.2"))
    assert "message_stop" not in capped.text and "message_start" in capped.text


def test_slow_start(http):
    began = time.perf_counter()
    response = http.post("/v1/messages", json=body("slow"), headers=fault("slow_start;seconds=0.4"))
    assert response.status_code == 200 and time.perf_counter() - began >= 0.4


def test_bad_fault_header(http):
    for spec in ("explode", "rate_limit;retry_after=soon", "rate_limit;oops"):
        response = http.post("/v1/messages", json=body("x"), headers=fault(spec))
        assert response.status_code == 400 and "x-nbmessages-fault" in error_of(response)["message"]


def test_server_wide_fault_at_a_rate_is_seeded():
    def statuses(seed: int) -> list[int]:
        with start(pace=0, ttft=0, fault="overloaded", fault_rate=0.5, seed=seed) as flaky, \
                httpx.Client(base_url=flaky.base_url) as client:
            return [client.post("/v1/messages", json=body(f"n{i}")).status_code for i in range(16)]

    first = statuses(7)
    assert set(first) == {200, 529} and first == statuses(7)


def test_fault_plan_unit():
    assert parse_fault("slow_start;seconds=2").number("seconds", 5) == 2
    plan = FaultPlan("server_error;times=1", rate=1.0)
    assert plan.choose(None, "a") is not None and plan.choose(None, "a") is None
    plan.reset()
    assert plan.choose(None, "a") is not None


def _wait_for(condition, timeout: float = 3.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)
