"""The embedded server's rate limits over loopback HTTP: token buckets, API headers, 429 with retry-after."""

from __future__ import annotations

import time

import httpx
import pytest

from nbmessages.local import start
from nbmessages.local.limits import Bucket, RateBuckets, RateLimits, Refused
from tests.local_fixtures import body


def test_bucket_refills_continuously_and_never_past_capacity():
    now = [0.0]
    bucket = Bucket(60, burst=2, clock=lambda: now[0])  # 1 a second, holds 2
    assert bucket.capacity == 2 and bucket.wait(2) == 0
    bucket.level -= 2
    assert bucket.wait(1) == pytest.approx(1.0)
    now[0] = 10
    assert bucket.refill() == 2 and bucket.wait(3) == float("inf")


def test_output_is_reserved_from_max_tokens_and_given_back_when_settled():
    buckets = RateBuckets(RateLimits(otpm=600, burst=60))
    admission = buckets.admit(10, max_tokens=500)
    assert buckets.buckets["output-tokens"].level == pytest.approx(100, abs=1)
    with pytest.raises(Refused) as refused:
        buckets.admit(10, max_tokens=200)
    assert refused.value.axis == "output-tokens" and 0 < refused.value.retry_after < 11
    admission.settle(output_tokens=20, input_tokens=10)
    assert buckets.buckets["output-tokens"].level == pytest.approx(580, abs=1)
    buckets.admit(10, max_tokens=200)


@pytest.mark.parametrize("spec", ["rpm=0", "rpm=x", "tpm=5", "burst=-1"])
def test_bad_limits_are_refused_with_the_field_named(spec):
    with pytest.raises(ValueError, match=spec.split("=")[0]):
        RateLimits.parse(spec)


def test_server_sends_ratelimit_headers_and_429_with_retry_after():
    with start(pace=0, ttft=0, rpm=120, itpm=100_000, otpm=100_000, burst=1) as server, \
            httpx.Client(base_url=server.base_url) as http:
        first = http.post("/v1/messages", json=body(max_tokens=50))
        assert first.status_code == 200
        h = first.headers
        assert h["anthropic-ratelimit-requests-limit"] == "120" and h["anthropic-ratelimit-requests-remaining"] == "1"
        for axis in ("input-tokens", "output-tokens", "tokens"):
            assert h[f"anthropic-ratelimit-{axis}-limit"] == "100000"
            assert h[f"anthropic-ratelimit-{axis}-reset"].endswith("Z")
        assert http.post("/v1/messages", json=body(max_tokens=50, stream=True)).status_code == 200
        refused = http.post("/v1/messages", json=body(max_tokens=50))
        assert refused.status_code == 429 and refused.json()["error"]["type"] == "rate_limit_error"
        assert 0 < float(refused.headers["retry-after"]) <= 0.5
        assert refused.headers["anthropic-ratelimit-requests-remaining"] == "0"
        time.sleep(float(refused.headers["retry-after"]) + 0.02)
        assert http.post("/v1/messages", json=body(max_tokens=50)).status_code == 200
        assert server.rate_limited == 1


def test_per_request_limits_share_buckets_by_header_and_refuse_what_never_fits(http):
    limits = {"x-nbmessages-limits": "otpm=6000;burst=1"}  # 100 output tokens a second
    assert http.post("/v1/messages", json=body(max_tokens=60), headers=limits).status_code == 200
    refused = http.post("/v1/messages", json=body(max_tokens=60), headers=limits)
    assert refused.status_code == 429 and "output tokens" in refused.json()["error"]["message"]
    assert http.post("/v1/messages", json=body(max_tokens=60)).status_code == 200  # no header: no limit
    never = http.post("/v1/messages", json=body(max_tokens=500), headers=limits)
    assert never.status_code == 429 and never.headers["x-should-retry"] == "false"
    bad = http.post("/v1/messages", json=body(), headers={"x-nbmessages-limits": "rpm=fast"})
    assert bad.status_code == 400 and "rpm" in bad.json()["error"]["message"]


def test_serve_command_takes_the_limit_flags():
    from nbmessages.__main__ import build_parser

    args = build_parser().parse_args(["serve", "--rpm", "600", "--itpm", "40000", "--otpm", "8000", "--burst", "1"])
    assert (args.rpm, args.itpm, args.otpm, args.burst) == (600, 40000, 8000, 1)
