"""Stream accumulation: nbmessages vs a raw httpx + json.loads loop vs the official anthropic SDK, same bytes.

Run: python benchmarks/bench_streaming.py [TEXT_DELTAS] [TOOL_JSON_DELTAS]
Targets: nbmessages within 1.5x the raw loop; >= 10x faster than the SDK on text, >= 50x on tool JSON.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import httpx

from nbmessages import Client
from nbmessages.testing import long_stream, mock_transport

REPEATS = 5


def raw_loop(body: bytes) -> Callable[[], object]:
    """The lower bound: split lines, json.loads each data line, join the pieces."""
    client = httpx.Client(transport=mock_transport(body))

    def run() -> object:
        with client.stream("POST", "http://bench/v1/messages") as response:
            blocks: dict[int, list] = {}
            for line in response.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    kind = event["type"]
                    if kind == "content_block_start":
                        blocks[event["index"]] = [event["content_block"], []]
                    elif kind == "content_block_delta":
                        delta = event["delta"]
                        blocks[event["index"]][1].append(delta.get("text") or delta.get("partial_json") or "")
            return {i: "".join(parts) for i, (_, parts) in blocks.items()}

    return run


def nbmessages_stream(body: bytes) -> Callable[[], object]:
    """client.messages.stream(...).get_final_message() over an in-memory transport."""
    # ledger=False: measure the stream, not the ledger (its own benchmark covers recording)
    client = Client(api_key="bench", base_url="http://bench", http_client=httpx.Client(transport=mock_transport(body)),
                    max_retries=0, ledger=False)

    def run() -> object:
        with client.messages.stream(model="m", max_tokens=10, messages="hi") as stream:
            return stream.get_final_message()

    return run


def sdk_stream(body: bytes) -> Callable[[], object] | None:
    """The official SDK on the same bytes (its own httpx fork, httpx2, when it uses one)."""
    try:
        import anthropic
    except ImportError:
        return None
    try:
        import httpx2 as sdk_httpx  # anthropic >= 2 builds on httpx2
    except ImportError:
        sdk_httpx = httpx
    transport = sdk_httpx.MockTransport(
        lambda request: sdk_httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    client = anthropic.Anthropic(api_key="bench", base_url="http://bench", max_retries=0,
                                 http_client=sdk_httpx.Client(transport=transport))

    def run() -> object:
        with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
            return s.get_final_message()

    return run


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def compare(label: str, body: bytes, sdk_target: float) -> bool:
    raw = best_of(raw_loop(body))
    ours = best_of(nbmessages_stream(body))
    sdk_fn = sdk_stream(body)
    sdk = best_of(sdk_fn, repeats=1 if label == "tool JSON" else 3) if sdk_fn else float("nan")
    print(f"{label}: {len(body) / 1e6:.1f} MB")
    print(f"  raw httpx + json.loads loop {raw * 1000:8.1f} ms")
    print(f"  nbmessages                  {ours * 1000:8.1f} ms   {ours / raw:5.2f}x raw   (target <= 1.5x)")
    print(f"  anthropic SDK               {sdk * 1000:8.1f} ms   {sdk / ours:5.1f}x slower than nbmessages"
          f"   (target >= {sdk_target:.0f}x)")
    met = ours / raw <= 1.5 and (sdk != sdk or sdk / ours >= sdk_target)
    print(f"  targets {'met' if met else 'NOT met'}")
    return met


def main() -> None:
    text_n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    tool_n = int(sys.argv[2]) if len(sys.argv) > 2 else 8_000
    ok = compare(f"text ({text_n} text deltas)", long_stream(text_n, 0), 10)
    ok &= compare("tool JSON", long_stream(1, tool_n), 50)
    print("all targets met" if ok else "some targets NOT met")


if __name__ == "__main__":
    main()
