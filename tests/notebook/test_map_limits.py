"""The map's limiter: header parsing and AIMD with a fake clock, then against the embedded server's limits."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

import nbmessages
from nbmessages.local import start
from nbmessages.notebook.map import limits
from nbmessages.notebook.map.limits import Bucket, Limiter, parse_headers


def _iso(seconds_from_now: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)).isoformat().replace("+00:00", "Z")


def test_headers_are_parsed_with_the_reset_as_seconds_until_full():
    seen = parse_headers({
        "anthropic-ratelimit-requests-limit": "600", "anthropic-ratelimit-requests-remaining": "4",
        "anthropic-ratelimit-requests-reset": _iso(0.6),
        "anthropic-ratelimit-output-tokens-limit": "8000", "anthropic-ratelimit-output-tokens-remaining": "x",
    })
    assert set(seen) == {"requests"}  # a malformed axis is skipped, not fatal
    assert seen["requests"].limit == 600 and seen["requests"].remaining == 4
    assert seen["requests"].full_in == pytest.approx(0.6, abs=0.05)


def test_bucket_learns_capacity_from_the_reset_and_trusts_remaining_only_when_told():
    now = [0.0]
    bucket = Bucket(600, 600, clock=lambda: now[0])
    bucket.observe(600, remaining=4, full_in=0.6, level=True)  # full in 0.6 s at 10/s: holds 10
    assert bucket.capacity == pytest.approx(10) and bucket.level == 4
    bucket.level = 8
    bucket.observe(600, remaining=0, full_in=1.0, level=False)  # a success's stale remaining: ignored
    assert bucket.level == 8


def test_aimd_halves_on_429_and_grows_back_additively():
    now = [0.0]
    limiter = Limiter(16, {"rpm": 6000}, clock=lambda: now[0])
    assert limiter.window == 16
    limiter.in_flight = 1
    limiter.release(ok=False, throttled=True, retry_after=2.0)
    assert limiter.window == 8 and limiter.cooldown_until == 2.0 and limiter.throttled == 1
    assert limiter.wait_time({"requests": 1}) == pytest.approx(2.0)
    for _ in range(8):
        limiter.release(ok=True)
    assert 8 < limiter.window < 10


def test_one_request_at_a_time_until_the_first_answer():
    async def scenario() -> list[int]:
        limiter = Limiter(10)
        await limiter.acquire(1, 1)
        second = asyncio.ensure_future(limiter.acquire(1, 1))
        await asyncio.sleep(0.01)
        states = [limiter.in_flight, int(second.done())]
        limiter.release(ok=True)
        await asyncio.wait_for(second, 1)
        return [*states, limiter.in_flight]

    assert asyncio.run(scenario()) == [1, 0, 1]


def test_a_request_larger_than_a_bucket_fails_its_row_not_the_map(server):
    with nbmessages.Client(base_url=server.base_url, ledger=False) as c:
        out = nbmessages.map(["tiny", "huge"], client=c, limits={"otpm": 100}, max_tokens=500, progress=False)
    assert set(out["error_type"]) == {"rate_limit_too_small"} and "output-tokens" in out.loc[0, "error_message"]


def test_requests_per_minute_of_the_server_are_respected():
    rows = pd.DataFrame({"q": [f"request {i}" for i in range(50)]})
    with start(pace=0, ttft=0, rpm=1200, burst=1) as limited, \
            nbmessages.Client(base_url=limited.base_url, ledger=False) as c:
        out = nbmessages.map(rows, "{q}", client=c, max_tokens=20, concurrency=25, progress=False)
        assert set(out["status"]) == {"ok"}
        # learned from the headers before it could overrun the bucket; a loaded machine (the server shares this
        # process) can delay and bunch requests, so a couple of 429s are tolerated here (bench_map.py (b) counts them)
        assert limited.rate_limited <= 3
        known = limits.recall(f"{c.profile.name} {c.base_url}")
    assert known is not None and known.limits == {"rpm": 1200} and not known.silent


def test_a_backend_known_to_send_no_limits_is_not_probed_again():
    assert not limits.Limiter(4).buckets and limits.Limiter(4).probing
    assert not limits.Limiter(4, probe=False).probing
    with start(pace=0, ttft=0) as srv, nbmessages.Client(base_url=srv.base_url, ledger=False) as c:
        backend = f"{c.profile.name} {c.base_url}"
        nbmessages.map(["a", "b"], client=c, max_tokens=5, progress=False)
        assert limits.recall(backend).silent  # answers came without rate-limit headers
        out = nbmessages.map(["c", "d"], client=c, max_tokens=5, progress=False)
        assert set(out["status"]) == {"ok"}


def test_output_tokens_are_reserved_from_max_tokens_under_an_otpm_limit():
    rows = pd.DataFrame({"q": [f"tell me about item {i}" for i in range(30)]})
    with start(pace=0, ttft=0.02, otpm=60_000, itpm=600_000, burst=1) as limited, \
            nbmessages.Client(base_url=limited.base_url, ledger=False) as c:
        out = nbmessages.map(rows, "{q}", client=c, max_tokens=300, concurrency=30, progress=False)
        assert set(out["status"]) == {"ok"}
        assert limited.rate_limited <= 1


def test_429s_from_a_shared_limit_are_retried_after_retry_after():
    rows = pd.DataFrame({"q": [f"shared {i}" for i in range(12)]})
    headers = {"x-nbmessages-fault": "rate_limit;times=1;retry_after=0.05"}
    with start(pace=0, ttft=0) as srv, nbmessages.Client(base_url=srv.base_url, ledger=False,
                                                         default_headers=headers) as c:
        out = nbmessages.map(rows, "{q}", client=c, max_tokens=20, concurrency=6, progress=False)
    assert set(out["status"]) == {"ok"}
