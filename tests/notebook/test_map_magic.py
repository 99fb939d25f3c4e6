"""``%%message --map df -o results`` in a real IPython shell, against the embedded server over loopback HTTP."""

from __future__ import annotations

import pandas as pd

from tests.shell_cells import run


def test_map_cell_sends_one_call_per_row_and_stores_the_frame(ip, server):
    ip.user_ns["df"] = pd.DataFrame({"review": ["Loved it", "Hated it"]}, index=["a", "b"])
    served = server.requests_served
    cell = run(ip, "%%message --map df -o results -m claude-haiku-4-5 --max-tokens 60\nClassify: {review}")
    assert cell.error is None and cell.result is None
    results = ip.user_ns["results"]
    assert list(results.index) == ["a", "b"] and set(results["status"]) == {"ok"}
    assert "Classify: Hated it" in results.loc["b", "text"]
    assert server.requests_served - served == 2
    assert "2 done · 0 failed" in cell.plain  # the final progress line is kept as an output
    assert cell.outputs[0]["update"] is False and any(o["update"] for o in cell.outputs)  # one live handle


def test_map_cell_returns_the_frame_without_out_and_previews_with_dry_run(ip, server):
    ip.user_ns["df"] = pd.DataFrame({"q": ["one", "two", "one"]})
    served = server.requests_served
    preview = run(ip, "%%message --map df --dry-run\nAnswer {q}")
    assert server.requests_served - served == 2  # count_tokens for the 2 unique requests; no answer asked
    assert preview.result.rows == 3 and preview.result.unique == 2
    cell = run(ip, "%%message --map df --concurrency 2\nAnswer {q}")
    assert list(cell.result["status"]) == ["ok", "ok", "cached"]


def test_map_cell_errors_are_shown_not_raised(ip):
    cell = run(ip, "%%message --map nowhere\nAnswer {q}")
    assert cell.error is None and "no variable named 'nowhere'" in cell.markdown
    ip.user_ns["df"] = pd.DataFrame({"q": ["x"]})
    cell = run(ip, "%%message --map df\nAnswer {missing}")
    assert "{missing} names no column" in cell.markdown
