"""Ledger benchmark: record() latency, and usage() + by_model() over 1,000,000 calls.

Run: python benchmarks/bench_ledger.py [n_rows]   (targets: record < 1 ms median; usage+by_model < 3 s)
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbmessages import usage as U  # noqa: E402
from nbmessages.ledger import COLUMNS, Ledger  # noqa: E402
from nbmessages.records import CallRecord  # noqa: E402
from nbmessages.types import Message  # noqa: E402

MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "anthropic/claude-sonnet-4.5"]


def realistic_record() -> CallRecord:
    """A streamed Sonnet call with cache use, thinking and tags."""
    msg = Message.model_validate({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "model": "claude-sonnet-4-5", "stop_reason": "end_turn",
        "content": [{"type": "text", "text": "x" * 400}],
        "usage": {"input_tokens": 1200, "output_tokens": 640, "cache_creation_input_tokens": 300,
                  "cache_read_input_tokens": 5000, "output_tokens_details": {"thinking_tokens": 200},
                  "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 0}},
    })
    return CallRecord(started_at=datetime.now(timezone.utc), profile="anthropic", base_host="api.anthropic.com",
                      model_requested="claude-sonnet-4-5", streamed=True, outcome="ok", message=msg,
                      request_id="req_011CSHoEeqs5C35K2UUqR7Fy", ttft=0.41, duration=3.2, session_id="sess-1",
                      chat="main", tags={"notebook": "analysis.ipynb", "cell": "12"})


def bench_record(path: Path, n: int = 2000) -> float:
    """Median seconds per record() into a file ledger."""
    led = Ledger(path)
    rec = realistic_record()
    for _ in range(50):
        led.record(rec)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        led.record(rec)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bulk_rows(n: int):
    """n synthetic ledger rows over the last year."""
    rnd = random.Random(1)
    start = int(time.time() * 1e6) - 365 * 86_400 * 10**6
    for i in range(n):
        model = MODELS[i % 4]
        inp, out, read = rnd.randint(10, 5000), rnd.randint(10, 2000), rnd.choice((0, 0, 2000, 8000))
        ok = i % 50 != 0
        yield (uuid.uuid4().hex, start + i * 31_000_000, f"msg_{i:024d}", f"req_{i:024d}", None,
               "openrouter" if "/" in model else "anthropic", "api.anthropic.com", model, model if ok else None,
               "Anthropic", f"sess-{i // 500}", f"chat-{i % 7}", i % 2, "ok" if ok else "overloaded_error",
               None if ok else 529, None if ok else "Overloaded", "end_turn" if ok else None,
               inp, out, 0, 0, 0, read, rnd.randint(0, out) if i % 3 == 0 else None, None, None, None,
               rnd.random(), 1 + rnd.random() * 10, rnd.random() * 100, 0,
               (inp * 3 + out * 15 + read * 0.3) / 1e6 if ok else None, "price_table" if ok else "unknown",
               '{"notebook": "a.ipynb"}', None)


def bench_usage(path: Path, n: int) -> tuple[float, float, float]:
    """Seconds to bulk-insert n rows, then for usage() + by_model() cold (first) and warm."""
    led = Ledger(path)
    t = time.perf_counter()
    led.insert_rows(bulk_rows(n), COLUMNS)
    insert = time.perf_counter() - t
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        df = U.usage(ledger=led)
        U.by_model(df)
        runs.append(time.perf_counter() - t)
    assert len(df) == n and df["cost_usd"].notna().any()
    return insert, runs[0], min(runs[1:])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        rec = bench_record(Path(tmp) / "record.sqlite")
        print(f"record(): median {rec * 1e3:.3f} ms per call over 2,000  (target < 1 ms: "
              f"{'met' if rec < 1e-3 else 'NOT met'})")
        insert, cold, warm = bench_usage(Path(tmp) / "big.sqlite", n)
        print(f"bulk insert of {n:,} rows: {insert:.1f} s")
        print(f"usage() + by_model() over {n:,} rows, first call (reads SQLite, writes columnar snapshots): "
              f"{cold:.2f} s  (target < 3 s: {'met' if cold < 3 else 'NOT met'})")
        print(f"usage() + by_model() over {n:,} rows, later calls (snapshots): {warm:.2f} s  "
              f"(target < 3 s: {'met' if warm < 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
