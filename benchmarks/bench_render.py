"""The display path of a long stream: coalesced LiveDisplay vs a naive update per delta. Prints times.

Run: ``python benchmarks/bench_render.py``. The stream comes from an in-memory transport, so the numbers
are the cost of decoding, accumulating and rendering only. The coalesced path sends about ten updates a
second whatever the stream's length, so its time grows linearly; the naive one re-renders the whole answer
on every delta, so its time grows with the square of the length.
"""

from __future__ import annotations

import time

import httpx

import nbmessages
from nbmessages.notebook.live_call import LiveCall
from nbmessages.notebook.render import LiveDisplay, Status, render_bundle
from nbmessages.testing import long_stream, mock_transport


class CountingPublisher:
    """Stands in for the notebook: counts what would be sent to the front end."""

    def __init__(self) -> None:
        self.shown = 0
        self.updates = 0
        self.bytes = 0

    def show(self, bundle: dict[str, str], display_id: str | None = None) -> None:
        self.shown += 1
        self.bytes += sum(len(v) for v in bundle.values())

    def update(self, bundle: dict[str, str], display_id: str) -> None:
        self.updates += 1
        self.bytes += sum(len(v) for v in bundle.values())


def client_for(deltas: int) -> nbmessages.Client:
    transport = mock_transport(long_stream(deltas))
    return nbmessages.Client(base_url="http://bench.test", ledger=False, http_client=httpx.Client(transport=transport))


def request() -> nbmessages.Request:
    return nbmessages.Request(model="claude-sonnet-4-5", max_tokens=1024, messages="Write a lot.")


class SimulatedClock:
    """Time as a real stream would have it: each look at the clock is one more delta at ``rate`` per second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1 / self.rate
        return self.now


def coalesced(deltas: int, clock: SimulatedClock | None = None) -> tuple[float, LiveDisplay]:
    """The magic's path: LiveCall with the default LiveDisplay (at most 10 updates a second)."""
    live = LiveDisplay(publisher=CountingPublisher(), mode="live", **({"clock": clock} if clock else {}))
    client = client_for(deltas)
    start = time.perf_counter()
    LiveCall(client, request(), display=live).run()
    return time.perf_counter() - start, live


def naive(deltas: int) -> tuple[float, CountingPublisher]:
    """The baseline: render the whole answer and update the display on every delta."""
    pub = CountingPublisher()
    client = client_for(deltas)
    start = time.perf_counter()
    with client.messages.stream(request()) as stream:
        for _ in stream.raw_events():
            pub.update(render_bundle(stream.snapshot, Status(streaming=True)), "naive")
    pub.show(render_bundle(stream.get_final_message()))
    return time.perf_counter() - start, pub


def main() -> None:
    print("coalesced display path (LiveCall + LiveDisplay), stream from memory:")
    print(f"{'deltas':>8} {'seconds':>9} {'µs/delta':>9} {'renders':>8}")
    for n in (10_000, 20_000, 40_000):
        seconds, live = coalesced(n)
        print(f"{n:>8} {seconds:>9.3f} {seconds / n * 1e6:>9.2f} {live.updates:>8}")
    print("\nthe same, with the display's clock running as if deltas arrived at 1,000 a second:")
    print(f"{'deltas':>8} {'stream s':>9} {'renders':>8} {'renders/s':>10} {'cpu s':>7} {'cpu share':>10}")
    for n in (10_000, 20_000, 40_000):
        clock = SimulatedClock(1_000)
        seconds, live = coalesced(n, clock)
        print(f"{n:>8} {clock.now:>9.1f} {live.updates:>8} {live.updates / clock.now:>10.1f} {seconds:>7.2f}"
              f" {seconds / clock.now:>10.1%}")
    print("\nnaive baseline (render + update on every delta):")
    print(f"{'deltas':>8} {'seconds':>9} {'µs/delta':>9} {'updates':>8} {'MB sent':>8}")
    for n in (1_000, 2_000, 4_000):
        seconds, pub = naive(n)
        print(f"{n:>8} {seconds:>9.3f} {seconds / n * 1e6:>9.2f} {pub.updates:>8} {pub.bytes / 1e6:>8.1f}")
    seconds, _ = coalesced(4_000)
    print(f"\nat 4,000 deltas the coalesced path takes {seconds:.3f} s; the naive one grows ~4x per doubling.")


if __name__ == "__main__":
    main()
