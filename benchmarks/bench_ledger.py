"""Ledger benchmark: record() latency, and usage() + by_model() over 1,000,000 calls, cold and warm.

Run: python benchmarks/bench_ledger.py [n_rows]   (targets: record < 1 ms median; usage+by_model < 3 s)

The big ledger is built the normal way (one executemany through Ledger.insert_rows). The cold number is the
first usage() + by_model() in a fresh Python process: it includes importing pandas, pyarrow and the ADBC driver.
"""

from __future__ import annotations

import importlib.util
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbmessages.client.observers import CallRecord  # noqa: E402
from nbmessages.ledger import frames as U  # noqa: E402
from nbmessages.ledger.store import COLUMNS, Ledger  # noqa: E402
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


def bench_insert(path: Path, n: int) -> float:
    """Seconds to bulk-insert n rows into a new file ledger."""
    led = Ledger(path)
    t = time.perf_counter()
    led.insert_rows(bulk_rows(n), COLUMNS)
    return time.perf_counter() - t


def time_usage(path: str, runs: int = 3) -> list[float]:
    """Seconds for usage() + by_model(), run several times in this process (the first one cold if it is fresh)."""
    led = Ledger(path)
    n = len(led)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        df = U.usage(ledger=led)
        U.by_model(df)
        times.append(time.perf_counter() - t)
    assert len(df) == n and df["cost_usd"].notna().any()
    return times


def bench_usage(path: Path) -> tuple[float, float]:
    """usage() + by_model() in a fresh process: the first call (cold) and the best later one (warm)."""
    out = subprocess.run([sys.executable, __file__, "--time-usage", str(path)], capture_output=True, text=True,
                         check=True).stdout
    times = json.loads(out)
    return times[0], min(times[1:])


def verdict(seconds: float, target: float) -> str:
    return f"target < {target:g} s: {'met' if seconds < target else 'NOT met'}"


def main() -> None:
    if sys.argv[1:2] == ["--time-usage"]:
        print(json.dumps(time_usage(sys.argv[2])))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        rec = bench_record(Path(tmp) / "record.sqlite")
        print(f"record(): median {rec * 1e3:.3f} ms per call over 2,000  (target < 1 ms: "
              f"{'met' if rec < 1e-3 else 'NOT met'})")
        big = Path(tmp) / "big.sqlite"
        print(f"bulk insert of {n:,} rows: {bench_insert(big, n):.1f} s")
        path = "ADBC (Arrow)" if importlib.util.find_spec("adbc_driver_sqlite") else "sqlite3 (no ADBC driver)"
        cold, warm = bench_usage(big)
        print(f"usage() + by_model() over {n:,} rows through {path}:")
        print(f"  cold, first call in a fresh process (imports included): {cold:.2f} s  ({verdict(cold, 3)})")
        print(f"  warm, later calls in that process:                      {warm:.2f} s  ({verdict(warm, 3)})")


if __name__ == "__main__":
    main()
