"""The map's progress line: what it says, and that it goes through one live display handle."""

from __future__ import annotations

from nbmessages.notebook.map.progress import ProgressLine, Tally
from nbmessages.notebook.render.display import LiveDisplay


class Recorder:
    def __init__(self) -> None:
        self.shown: list[dict[str, str]] = []
        self.updated: list[dict[str, str]] = []

    def show(self, bundle, display_id=None):
        self.shown.append(bundle)

    def update(self, bundle, display_id):
        self.updated.append(bundle)


def test_line_counts_tokens_cost_rate_and_eta():
    tally = Tally(total=10, cached=2, done=3, failed=1, input_tokens=1200, output_tokens=300, cost=0.0123)
    tally.started -= 2.0
    line = tally.line()
    assert line.startswith("3 done · 1 failed · 2 cached · 4 remaining · 1,200 in / 300 out tokens · $0.01")
    assert "rows/s" in line and "ETA" in line
    assert "4 not sent" in Tally(total=4, skipped=4).line(final=True)


def test_updates_are_coalesced_to_ten_a_second_and_the_final_line_is_a_new_output():
    now = [0.0]
    tally = Tally(total=100)
    line = ProgressLine(tally, "map m")
    recorder = Recorder()
    line.display = LiveDisplay(publisher=recorder, mode="live", clock=lambda: now[0])
    for i in range(100):  # 100 ticks in one second
        tally.done = i
        now[0] = i / 100
        line.update()
    assert 9 <= line.display.updates <= 11
    line.finish("⏹ Interrupted")
    final = recorder.shown[-1]
    assert "map m" in final["text/plain"] and "⏹ Interrupted" in final["text/markdown"]
