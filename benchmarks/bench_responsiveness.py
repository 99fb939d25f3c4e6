"""How quickly things answer a person: server start, an interrupted cell, Stop in the playground, compare overlap.

Run: ``python benchmarks/bench_responsiveness.py``. Everything talks to the embedded server over loopback.
These used to be timed assertions in the tests; the tests now check the behaviour (a partial answer kept,
four streams open at once) and this script prints the times, with the targets they were held to.
"""

from __future__ import annotations

import os
import signal
import threading
import time

os.environ.setdefault("NBMESSAGES_LEDGER", ":memory:")

import nbmessages  # noqa: E402
import nbmessages.local as local  # noqa: E402


def server_start() -> float:
    local.start(pace=0, ttft=0).stop()  # imports done
    began = time.perf_counter()
    server = local.start(pace=0, ttft=0)
    took = time.perf_counter() - began
    server.stop()
    return took


def cell_interrupt(slow: local.LocalServer) -> float:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with capture_output():
        shell.run_cell("%load_ext nbmessages")
        shell.run_cell(f"%nbmessages base_url {slow.base_url}")
    main = threading.main_thread().ident
    fired: list[float] = []

    def interrupt() -> None:
        fired.append(time.perf_counter())
        signal.pthread_kill(main, signal.SIGINT)  # what the kernel's interrupt does

    timer = threading.Timer(0.6, interrupt)
    timer.start()
    with capture_output():
        shell.run_cell("%%message --new\n" + "Tell me everything about streams. " * 20)
    returned = time.perf_counter()
    timer.join()
    return returned - fired[0]


def playground_stop(slow: local.LocalServer) -> float:
    pg = nbmessages.playground(base_url=slow.base_url)
    pg.prompt.value = "Tell me a long story"
    pg.send()
    while not (pg.last_message and len(pg.last_message.text) > 20):
        time.sleep(0.02)
    began = time.perf_counter()
    pg.stop_button.click()
    pg.wait(10)
    return time.perf_counter() - began


def compare_ratio(paced: local.LocalServer) -> tuple[float, float]:
    def ask(pg: object) -> float:
        pg.prompt.value = "Tell me something"  # type: ignore[attr-defined]
        began = time.perf_counter()
        pg.send()  # type: ignore[attr-defined]
        pg.wait(30)  # type: ignore[attr-defined]
        return time.perf_counter() - began

    one = ask(nbmessages.playground(base_url=paced.base_url))
    four = ask(nbmessages.playground(base_url=paced.base_url, compare=[
        "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-8", "nbmessages-offline"]))
    return one, four


def main() -> None:
    took = server_start()
    print(f"embedded server start: {took * 1000:.0f} ms (target < 500 ms: {'met' if took < 0.5 else 'NOT met'})")
    with local.start(pace=20, ttft=0) as slow:
        took = cell_interrupt(slow)
        print(f"%%message interrupted: returns {took * 1000:.0f} ms after SIGINT "
              f"(target < 500 ms: {'met' if took < 0.5 else 'NOT met'})")
        took = playground_stop(slow)
        print(f"playground Stop: stream ended {took * 1000:.0f} ms after the click "
              f"(target < 1 s: {'met' if took < 1 else 'NOT met'})")
    with local.start(pace=200, ttft=0) as paced:
        one, four = compare_ratio(paced)
        print(f"compare: 1 column {one:.2f} s, 4 columns {four:.2f} s, ratio {four / one:.2f} "
              f"(target < 2.5: {'met' if four < 2.5 * one else 'NOT met'})")


if __name__ == "__main__":
    main()
