"""Retry policy: which failures are retried, how long the client waits, and that streams are not replayed."""

from __future__ import annotations

import httpx
import pytest

from nbmessages import Client
from nbmessages.client import errors
from nbmessages.client.retries import retry_delay, should_retry
from nbmessages.testing import message_events, sse

OK = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [{"type": "text", "text": "ok"}],
      "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}


def error_body(kind: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": f"{kind} happened"}, "request_id": "req_1"}


class Script:
    """A transport that answers with a scripted list of responses, and counts requests."""

    def __init__(self, *responses: httpx.Response | Exception):
        self.responses = list(responses)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(item, Exception):
            raise item
        return item


def make(script: Script, **kw) -> Client:
    return Client(api_key="k", base_url="http://test", http_client=httpx.Client(transport=httpx.MockTransport(script)),
                  ledger=False, **kw)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses_are_retried(status):
    script = Script(httpx.Response(status, json=error_body("api_error"), headers={"retry-after-ms": "1"}),
                    httpx.Response(200, json=OK))
    assert make(script).messages.create(model="m", max_tokens=5, messages="hi").text == "ok"
    assert script.calls == 2


@pytest.mark.parametrize(("status", "cls"), [
    (400, errors.BadRequestError), (401, errors.AuthenticationError), (402, errors.BillingError),
    (403, errors.PermissionDeniedError), (404, errors.NotFoundError), (413, errors.RequestTooLargeError),
])
def test_client_errors_are_never_retried(status, cls):
    script = Script(httpx.Response(status, json=error_body("invalid_request_error"), headers={"request-id": "req_9"}))
    with pytest.raises(cls) as info:
        make(script).messages.create(model="m", max_tokens=5, messages="hi")
    assert script.calls == 1
    err = info.value
    assert err.status_code == status and err.request_id == "req_9" and "happened" in err.message
    assert err.headers["request-id"] == "req_9"


@pytest.mark.parametrize(("status", "cls"), [
    (408, errors.RequestTimeoutError), (429, errors.RateLimitError), (500, errors.InternalServerError),
    (502, errors.BadGatewayError), (503, errors.ServiceUnavailableError), (504, errors.GatewayTimeoutError),
    (529, errors.OverloadedError),
])
def test_final_errors_are_typed(status, cls):
    script = Script(httpx.Response(status, json=error_body("overloaded_error"), headers={"retry-after-ms": "0"}))
    with pytest.raises(cls) as info:
        make(script, max_retries=1).messages.create(model="m", max_tokens=5, messages="hi")
    assert script.calls == 2 and info.value.error_type == "overloaded_error"


def test_connection_errors_and_timeouts():
    script = Script(httpx.ConnectError("refused"), httpx.Response(200, json=OK))
    assert make(script).messages.create(model="m", max_tokens=5, messages="hi").text == "ok"
    script = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(errors.APITimeoutError):
        make(script, max_retries=1).messages.create(model="m", max_tokens=5, messages="hi")
    assert script.calls == 2


def test_should_retry_obeys_x_should_retry():
    no = errors.InternalServerError("x", headers=httpx.Headers({"x-should-retry": "false"}))
    yes = errors.BadRequestError("x", headers=httpx.Headers({"x-should-retry": "true"}))
    assert not should_retry(no) and should_retry(yes)


def test_retry_delay_honours_headers_and_backs_off():
    assert retry_delay(0, httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert retry_delay(0, httpx.Headers({"retry-after": "3"})) == 3.0
    assert retry_delay(0, httpx.Headers({"retry-after": "999999"})) == 60.0
    assert 30 < retry_delay(0, httpx.Headers({"retry-after": _http_date(40)})) <= 41
    for n, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (6, 8.0)]:
        delay = retry_delay(n, httpx.Headers())
        assert 0.75 * ceiling <= delay <= ceiling


def _http_date(seconds_ahead: int) -> str:
    from email.utils import formatdate
    from time import time

    return formatdate(time() + seconds_ahead, usegmt=True)


def test_a_stream_is_not_retried_after_its_first_event():
    events = message_events([{"type": "text", "text": "partial"}])[:4]
    events.append({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    script = Script(httpx.Response(200, content=sse(events), headers={"content-type": "text/event-stream"}))
    with pytest.raises(errors.StreamEventError), make(script).messages.stream(model="m", max_tokens=5,
                                                                             messages="hi") as s:
        s.get_final_message()
    assert script.calls == 1


def test_a_stream_is_retried_before_it_starts():
    body = sse(message_events([{"type": "text", "text": "fine"}]))
    script = Script(httpx.Response(529, json=error_body("overloaded_error"), headers={"retry-after-ms": "1"}),
                    httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    with make(script).messages.stream(model="m", max_tokens=5, messages="hi") as s:
        assert s.get_final_message().text == "fine"
    assert script.calls == 2 and s.retries == 1
