"""usage(): typed DataFrame, filters, summaries, cache savings, latency, plots, the Arrow (ADBC) read."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta, timezone

import matplotlib
import pandas as pd
import pytest
from _ledger_records import SONNET_COST, record

from nbmessages.ledger import frames as U
from nbmessages.ledger.store import COLUMNS, Ledger

matplotlib.use("Agg")
DAY1 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    led = Ledger(tmp_path / "u.sqlite")
    led.record(record(when=DAY1, session_id="s1", chat="a", tags={"cell": "1"}))
    led.record(record(when=DAY1 + timedelta(hours=1), session_id="s1", chat="a", ttft=0.5, duration=3.0))
    led.record(record("claude-haiku-4-5", when=DAY1 + timedelta(days=1), session_id="s2", chat="b",
                      usage={"input_tokens": 100, "output_tokens": 1000}, tags={"cell": "2"}))
    led.record(record("claude-haiku-4-5", when=DAY1 + timedelta(days=1), with_message=False,
                      outcome="overloaded_error", status_code=529, session_id="s2", chat="b", ttft=None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        led.record(record("mystery-model-u1", when=DAY1 + timedelta(days=2), session_id="s3", chat="b"))
    return led


def test_dtypes(ledger) -> None:
    df = U.usage(ledger=ledger)
    assert len(df) == 5
    assert str(df["timestamp"].dtype) == "datetime64[us, UTC]"
    for col in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "retries"):
        assert df[col].dtype == "Int64", col
    for col in ("model", "provider", "profile", "outcome", "cost_source"):
        assert df[col].dtype == "category", col
    assert df["cost_usd"].dtype == "float64" and df["streamed"].dtype == "boolean"
    assert df["cost_usd"].isna().sum() == 2  # the error and the unknown model
    assert df["input_tokens"].isna().sum() == 1
    assert df.loc[3, "model"] == "claude-haiku-4-5"  # no answer: the requested model


def test_filters(ledger) -> None:
    assert len(U.usage(ledger=ledger, since=DAY1 + timedelta(days=1))) == 3
    assert len(U.usage(ledger=ledger, since="2025-03-01", until="2025-03-02")) == 2
    assert len(U.usage(ledger=ledger, model="claude-haiku-4-5")) == 2
    assert len(U.usage(ledger=ledger, model=["claude-haiku-4-5", "claude-sonnet-4-5"])) == 4
    assert len(U.usage(ledger=ledger, session="s1")) == 2
    assert len(U.usage(ledger=ledger, chat="b")) == 3
    assert len(U.usage(ledger=ledger, tags={"cell": "2"})) == 1
    assert len(U.usage(ledger=ledger, tags={"notebook": "a.ipynb"})) == 3


def test_content_column(tmp_path) -> None:
    led = Ledger(tmp_path / "c.sqlite")
    led.record(record(), log_content=True)
    led.record(record())
    df = U.usage(ledger=led, content=True)
    assert df["content"][0]["response"]["content"][0]["text"] == "Hello" and df["content"][1] is None


def test_summaries(ledger) -> None:
    df = U.usage(ledger=ledger)
    bm = U.by_model(df)
    assert bm.index[0] == "claude-sonnet-4-5"
    sonnet = bm.loc["claude-sonnet-4-5"]
    assert sonnet["calls"] == 2 and sonnet["cost_usd"] == pytest.approx(2 * SONNET_COST)
    assert sonnet["usd_per_1k_output"] == pytest.approx(SONNET_COST / 500 * 1000)
    assert bm.loc["claude-haiku-4-5", "errors"] == 1
    assert bm.loc["claude-haiku-4-5", "unpriced_calls"] == 0  # the 529 used no tokens: it cost nothing, known
    assert pd.isna(bm.loc["mystery-model-u1", "cost_usd"]) and bm.loc["mystery-model-u1", "unpriced_calls"] == 1
    day = U.by_day(df)
    assert list(day["calls"]) == [2, 2, 1] and str(day.index.dtype) == "datetime64[us, UTC]"
    assert list(U.by_session(df)["calls"]) == [2, 2, 1]
    assert U.by_chat(df).loc["b", "calls"] == 3
    assert U.cost_per_1k_output(df)["claude-sonnet-4-5"] == pytest.approx(0.02445)


def test_cache_savings(ledger) -> None:
    saved = U.cache_savings(U.usage(ledger=ledger))
    row = saved.loc["claude-sonnet-4-5"]
    assert row["cache_read_tokens"] == 4000
    assert row["read_savings_usd"] == pytest.approx(4000 * (3.0 - 0.3) / 1e6)
    assert row["write_premium_usd"] == pytest.approx(600 * (3.75 - 3.0) / 1e6)
    assert row["net_savings_usd"] == pytest.approx(row["read_savings_usd"] - row["write_premium_usd"])


def test_latency_percentiles(ledger) -> None:
    lat = U.latency(U.usage(ledger=ledger))
    assert lat.loc["claude-sonnet-4-5", "duration_p50"] == pytest.approx(2.125)
    assert list(lat.columns) == ["duration_p50", "duration_p90", "duration_p99", "ttft_p50", "ttft_p90", "ttft_p99"]
    overall = U.latency(U.usage(ledger=ledger), by=None)
    assert len(overall) == 1 and overall["ttft_p50"].iloc[0] == pytest.approx(0.25)


def test_plots_return_axes(ledger) -> None:
    from matplotlib.axes import Axes

    df = U.usage(ledger=ledger)
    for plot in (U.plot_spend, U.plot_by_model, U.plot_tokens):
        assert isinstance(plot(df), Axes)


def _bulk_rows(n: int, start: int = 0) -> list[tuple]:
    """n raw ledger rows: the first 1,500 without answer or text, so ADBC's type inference meets NULLs first."""
    rows = []
    for i in range(start, start + n):
        ok = i >= 1500
        row = dict.fromkeys(COLUMNS)
        row.update(id=f"id-{i:06d}", ts=U.to_micros(DAY1) + i * 1_000_000, outcome="ok" if ok else "overloaded_error",
                   model_requested=["claude-sonnet-4-5", "claude-haiku-4-5"][i % 2], streamed=None if i % 5 else i % 2)
        if ok:
            row.update(model=row["model_requested"], provider="Anthropic", profile="anthropic", chat=f"c{i % 3}",
                       session_id=f"s{i // 100}", message_id=f"msg_{i}", error_message=None if i % 7 else "odd",
                       input_tokens=i, output_tokens=i % 11 or None, cache_read_tokens=0, retries=i % 2,
                       ttft=0.25, duration=1.5, output_tps=10.0, cost_usd=i / 1e6, cost_source="price_table",
                       tags=json.dumps({"i": i % 4}), stop_reason="end_turn")
        rows.append(tuple(row[c] for c in COLUMNS))
    return rows


def test_arrow_read_matches_the_sqlite3_read(tmp_path, monkeypatch) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    monkeypatch.setattr(U, "PARALLEL_ROWS", 1000)  # several threads, each with its own NULL-first rows
    led = Ledger(tmp_path / "a.sqlite")
    assert len(U._read_arrow(led.path, led.connection)) == 0  # noqa: SLF001 - the fast reader itself, on an empty ledger
    led.insert_rows(_bulk_rows(3000))
    led.record(record(retries=9, tags={"k": "v"}))
    led.connection.execute("DELETE FROM calls WHERE rowid % 97 = 0")  # gaps in the rowids
    arrow = U._read_arrow(led.path, led.connection)  # noqa: SLF001 - the two readers must agree
    plain = U._read_rows(led.connection)  # noqa: SLF001
    pd.testing.assert_frame_equal(arrow, plain)
    assert len(arrow) == 3001 - 3001 // 97 and arrow["rowid"].is_monotonic_increasing
    assert arrow["error_message"].notna().sum() > 0 and arrow["streamed"].isna().sum() > 0
    assert list(arrow["model"].cat.categories) == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    df = U.usage(ledger=led)  # the arrow path, as usage() reads a file ledger
    pd.testing.assert_frame_equal(df, plain.drop(columns="rowid"))
    assert json.loads(df["tags"].iloc[-1]) == {"k": "v"} and df["retries"].iloc[-1] == 9


def test_memory_ledger_reads_through_sqlite3() -> None:
    led = Ledger(":memory:")
    led.insert_rows(_bulk_rows(50, start=1490))
    df = U.usage(ledger=led)
    assert len(df) == 50 and df["input_tokens"].isna().sum() == 10 and str(df["timestamp"].dtype) == "datetime64[us, UTC]"


def test_import_nbmessages_does_not_import_pandas() -> None:
    import subprocess
    import sys

    code = "import nbmessages, nbmessages.ledger, nbmessages.ledger.budget, nbmessages.usage, sys; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_module_is_callable_as_usage(ledger) -> None:
    import nbmessages.ledger.frames

    assert len(nbmessages.usage(ledger=ledger, chat="a")) == 2


def test_a_failed_fast_read_warns_and_reads_through_sqlite3(ledger, monkeypatch) -> None:
    expected = U.usage(ledger=ledger)

    def broken(path, conn):
        raise OSError("[SQLite] Type mismatch in column 6")

    monkeypatch.setattr(U, "_read_arrow", broken)
    with pytest.warns(UserWarning, match="reading through sqlite3"):
        df = U.usage(ledger=ledger)
    pd.testing.assert_frame_equal(df, expected)


def test_by_tag_sums_calls_and_cost_per_tag_value(tmp_path):
    import nbmessages
    from nbmessages.ledger.store import Ledger

    led = Ledger(tmp_path / "tags.sqlite")
    with nbmessages.local.start(pace=0, ttft=0) as srv, nbmessages.Client(base_url=srv.base_url, ledger=led) as c:
        for tag in ("a", "a", "b"):
            c.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages="hi", tags={"map": tag})
        c.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages="untagged")
    summary = nbmessages.usage.by_tag(nbmessages.usage(ledger=led), "map")
    assert summary["calls"].to_dict() == {"a": 2, "b": 1} and (summary["cost_usd"] > 0).all()


def test_the_frames_read_the_table_without_importing_the_ledger() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(U))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
    assert "store" not in imported and "schema" in imported  # the ledger imports the frames, one way


def test_the_offline_models_calls_are_left_out_of_spend_unless_asked(ledger) -> None:
    ledger.record(record(when=DAY1, profile="local", simulated=True))  # as a client on the offline server records
    real = U.usage(ledger=ledger)
    everything = U.usage(ledger=ledger, simulated=True)
    assert len(real) == 5 and len(everything) == 6 and everything["simulated"].sum() == 1
    assert U.by_model(real).loc["claude-sonnet-4-5", "calls"] == 2  # summaries see only real spending
    assert U.by_model(everything).loc["claude-sonnet-4-5", "calls"] == 3
