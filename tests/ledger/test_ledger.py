"""The ledger: one row per call whatever the outcome, concurrency, crash safety, migrations, export/merge."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
from _ledger_records import SONNET_COST, record

from nbmessages.ledger import store as ledger_mod
from nbmessages.ledger.budget import Budget
from nbmessages.ledger.store import MIGRATIONS, Ledger, LedgerObserver, get_ledger, migrate, observers

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("outcome", "with_message"), [
    ("ok", True), ("rate_limit_error", False), ("overloaded_error", False), ("interrupted", True),
    ("incomplete", True), ("api_connection_error", False),
])
def test_one_row_per_call_for_every_outcome(tmp_path, outcome: str, with_message: bool) -> None:
    led = Ledger(tmp_path / "u.sqlite")
    led.record(record(outcome=outcome, with_message=with_message, retries=2,
                      error_message=None if outcome == "ok" else "boom", status_code=None))
    (row,) = led.rows()
    assert row["outcome"] == outcome and row["retries"] == 2
    assert row["model_requested"] == "claude-sonnet-4-5"
    if with_message:
        assert row["message_id"] == "msg_01abc" and row["input_tokens"] == 1000
        assert row["cost_usd"] == pytest.approx(SONNET_COST)
    else:
        assert row["message_id"] is None and row["cost_usd"] is None and row["cost_source"] == "unknown"


def test_row_fields(tmp_path) -> None:
    led = Ledger(tmp_path / "u.sqlite")
    usage = {"input_tokens": 10, "output_tokens": 100, "output_tokens_details": {"thinking_tokens": 40},
             "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1}}
    led.record(record(usage=usage, generation_id="gen-1", ttft=0.5, duration=2.5, tags={"cell": "7"}))
    (row,) = led.rows()
    assert row["thinking_tokens"] == 40 and row["web_search_requests"] == 2 and row["web_fetch_requests"] == 1
    assert row["output_tps"] == pytest.approx(100 / 2.0)
    assert row["generation_id"] == "gen-1" and row["provider"] == "Anthropic" and row["streamed"] == 1
    assert json.loads(row["tags"]) == {"cell": "7"}
    assert len(row["id"]) == 32 and row["content"] is None


def test_content_only_when_logging_is_on(tmp_path) -> None:
    led = Ledger(tmp_path / "u.sqlite")
    led.record(record())
    led.record(record(), log_content=True)
    off, on = led.rows()
    assert off["content"] is None
    assert json.loads(on["content"])["response"]["content"][0]["text"] == "Hello"


def test_wal_and_schema_version(tmp_path) -> None:
    led = Ledger(tmp_path / "u.sqlite")
    assert led.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert led.schema_version == len(MIGRATIONS)


def test_default_path_env_and_singleton(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NBMESSAGES_LEDGER", str(tmp_path / "moved.sqlite"))
    assert ledger_mod.default_path() == str(tmp_path / "moved.sqlite")
    assert get_ledger() is get_ledger(tmp_path / "moved.sqlite")
    assert get_ledger(":memory:") is get_ledger(":memory:")


def test_migrates_an_older_schema(tmp_path, monkeypatch) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:2])  # a version-2 ledger, with the (since dropped) frame cache
    conn.execute("INSERT INTO calls (id, ts, outcome) VALUES ('a', 1, 'ok')")
    conn.close()
    steps = [*MIGRATIONS, "ALTER TABLE calls ADD COLUMN extra TEXT;\n"]
    monkeypatch.setattr(ledger_mod, "MIGRATIONS", steps)
    led = Ledger(path)
    assert led.schema_version == len(steps)
    cols = {r[1] for r in led.connection.execute("PRAGMA table_info(calls)")}
    assert "extra" in cols
    tables = {r[0] for r in led.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"calls", "map_results", "batch_runs", "batch_jobs", "batch_rows", "batch_bodies",
                      "map_claims"}  # V3 dropped the frame cache; V6 added nbmessages.map's answers, V7 the
    # batch runs, V8 their request bodies and the Dask map's claims
    assert [r["id"] for r in led.rows()] == ["a"]
    led.record(record())
    led.close()
    assert Ledger(path).schema_version == len(steps) and len(Ledger(path)) == 2  # reopening migrates nothing


def _write_many(path: str, n: int) -> None:
    led = Ledger(path)
    for i in range(n):
        led.record(record(chat=f"proc-{os.getpid()}", retries=i))


def test_several_processes_write_at_once(tmp_path) -> None:
    path = str(tmp_path / "shared.sqlite")
    parent = Ledger(path)  # kept open while children fork: they must not disturb its connection
    parent.record(record(chat="parent"))
    ctx = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
    procs = [ctx.Process(target=_write_many, args=(path, 200)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    led = parent
    assert len(led) == 801
    counts = led.connection.execute("SELECT chat, count(DISTINCT retries) FROM calls GROUP BY chat").fetchall()
    assert sorted(n for _, n in counts) == [1, 200, 200, 200, 200]


def test_killed_process_loses_no_completed_record(tmp_path) -> None:
    path = tmp_path / "killed.sqlite"
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        from _ledger_records import record
        from nbmessages.ledger import Ledger
        led = Ledger({str(path)!r})
        i = 0
        while True:
            led.record(record(retries=i))
            i += 1
            print(i, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    reported = 0
    deadline = time.monotonic() + 30
    while reported < 300 and time.monotonic() < deadline:
        reported = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert reported >= 300
    assert len(Ledger(path)) >= reported


def _count(path: Path) -> int:
    with sqlite3.connect(path) as conn:  # another connection: what other processes see
        return conn.execute("SELECT count(*) FROM calls").fetchone()[0]


def test_batched_calls_are_written_at_once_when_quiet_else_within_a_moment(tmp_path) -> None:
    path = tmp_path / "batched.sqlite"
    led = Ledger(path)
    led.record(record(retries=0), batched=True)
    assert _count(path) == 1 and led.pending == 0  # the first after a quiet spell: written at once
    for i in range(1, 20):
        led.record(record(retries=i), batched=True)
    assert led.pending == 19 and _count(path) == 1
    assert len(Ledger(path)) == 20  # a read through any ledger object of the file writes them first
    led.record(record(retries=20), batched=True)
    time.sleep(ledger_mod.FLUSH_EVERY * 3)
    assert led.pending == 0 and _count(path) == 21  # the timer wrote it


def test_batched_calls_are_written_at_exit_and_on_close(tmp_path) -> None:
    path = tmp_path / "exit.sqlite"
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        from _ledger_records import record
        from nbmessages.ledger import Ledger
        led = Ledger({str(path)!r})
        for i in range(50):
            led.record(record(retries=i), batched=True)
        assert led.pending > 0
        raise SystemExit(3)  # no close: the exit writes them
    """)
    assert subprocess.run([sys.executable, "-c", script]).returncode == 3
    assert _count(path) == 50
    led = Ledger(path)
    for i in range(10):
        led.record(record(retries=i), batched=True)
    led.close()
    assert _count(path) == 60


def test_a_transaction_writes_the_pending_calls_first(tmp_path) -> None:
    led = Ledger(tmp_path / "tx.sqlite")
    for i in range(5):
        led.record(record(retries=i), batched=True)
    with led.transaction() as conn:
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 5
    assert led.pending == 0


def test_export_import_round_trip_dedupes(tmp_path) -> None:
    pytest.importorskip("pyarrow")
    led = Ledger(tmp_path / "a.sqlite")
    led.record(record(), log_content=True)
    led.record(record("anthropic/claude-sonnet-4.5", profile="openrouter", with_message=False,
                      outcome="rate_limit_error", error_message="slow down, \"please\"\nnow", tags={}))
    led.record(record(usage={"input_tokens": 5, "output_tokens": 7, "cost": 0.25}))
    original = led.rows("ORDER BY rowid")
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"export{suffix}"
        assert led.export(out) == 3
        other = Ledger(tmp_path / f"b{suffix}.sqlite")
        other.record(record(chat="already here"))
        assert other.import_(out) == 3
        assert other.import_(out) == 0  # merging again adds nothing
        assert led.merge(out) == 0
        got = {r["id"]: r for r in other.rows()}
        assert len(got) == 4
        for row in original:
            assert got[row["id"]] == row, suffix


def test_merge_ledgers(tmp_path) -> None:
    a, b = Ledger(tmp_path / "a.sqlite"), Ledger(tmp_path / "b.sqlite")
    a.record(record())
    b.record(record())
    assert a.merge(b) == 1 and a.merge(b) == 0 and a.merge(tmp_path / "b.sqlite") == 0
    assert len(a) == 2


def test_observers_factory(tmp_path) -> None:
    assert observers({"ledger": False}) == []
    (obs,) = observers({"ledger": str(tmp_path / "o.sqlite"), "tags": {"nb": "x"}, "log_content": True})
    assert isinstance(obs, LedgerObserver) and obs.ledger is get_ledger(tmp_path / "o.sqlite")
    obs.before_request(None)
    obs.record(record(tags={}))
    (row,) = obs.ledger.rows()
    assert json.loads(row["tags"]) == {"nb": "x"} and row["content"] is not None
    mine = Ledger(":memory:")
    default, budget = observers({"ledger": mine, "budget": 5})
    assert default.ledger is mine and isinstance(budget, Budget) and budget.limit == 5
    (default,) = observers({"ledger": None})
    assert default.ledger is get_ledger()


def test_ledger_failure_is_a_warning(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    (obs,) = observers({"ledger": str(blocker / "sub" / "u.sqlite")})
    with pytest.warns(UserWarning, match="could not record"):
        obs.record(record())


def test_naive_timestamps_are_utc() -> None:
    from datetime import datetime, timezone
    naive = datetime(2025, 1, 2, 3, 4, 5, 6)
    assert ledger_mod.to_micros(naive) == ledger_mod.to_micros(naive.replace(tzinfo=timezone.utc))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        led = Ledger(":memory:")
        led.record(record(when=naive))
    assert led.rows()[0]["ts"] == 1735787045000006


def test_calls_to_the_offline_model_are_marked_simulated(tmp_path, server) -> None:
    from nbmessages import Client

    led = Ledger(tmp_path / "sim.sqlite")
    with Client(base_url=server.base_url, profile="local", ledger=led) as offline:
        offline.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages="hi")
    with Client(base_url=server.base_url, ledger=led) as other:  # a compatible server: maybe real spending
        other.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages="hi")
    assert [(r["profile"], r["simulated"]) for r in led.rows()] == [("local", 1), ("compatible", 0)]
    assert all(r["cost_usd"] > 0 for r in led.rows())  # still priced: what the call would cost


def _migrated_from(tmp_path, version: int, row_sql: str) -> Ledger:
    """A ledger file written at schema ``version`` with one row (``row_sql``), opened now: migrated to the latest."""
    path = tmp_path / f"v{version}.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:version])
    conn.execute(row_sql)
    conn.close()
    return Ledger(path)


def test_version_4_adds_the_output_counted_and_simulated_flags(tmp_path) -> None:
    led = _migrated_from(tmp_path, 3, "INSERT INTO calls (id, ts, outcome) VALUES ('old', 1, 'ok')")
    assert led.schema_version == len(MIGRATIONS)
    assert {k: led.rows()[0][k] for k in ("output_counted", "simulated")} == {"output_counted": None, "simulated": None}


def test_version_5_adds_the_openrouter_columns_after_version_4(tmp_path) -> None:
    led = _migrated_from(tmp_path, 4, "INSERT INTO calls (id, ts, outcome, simulated) VALUES ('old', 1, 'ok', 0)")
    assert led.schema_version == len(MIGRATIONS)
    row = led.rows()[0]
    assert row["simulated"] == 0
    assert {k: row[k] for k in ("response_cache", "routing", "availability")} == dict.fromkeys(
        ("response_cache", "routing", "availability"))


def test_versions_6_and_7_add_the_map_and_batch_tables_after_main_s_five(tmp_path) -> None:
    led = _migrated_from(tmp_path, 5, "INSERT INTO calls (id, ts, outcome, routing) VALUES ('old', 1, 'ok', 'r')")
    assert led.schema_version == len(MIGRATIONS)
    tables = {r[0] for r in led.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"calls", "map_results", "batch_runs", "batch_jobs", "batch_rows"} <= tables
    assert led.rows()[0]["routing"] == "r"


def test_version_8_adds_batch_bodies_and_map_claims_after_version_7(tmp_path) -> None:
    led = _migrated_from(tmp_path, 7, "INSERT INTO batch_runs (run, created, custom_ids) VALUES ('old', 1, '[\"a\"]')")
    assert led.schema_version == 8 == len(MIGRATIONS)
    tables = {r[0] for r in led.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"batch_bodies", "map_claims"} <= tables
    assert led.connection.execute("SELECT run FROM batch_runs").fetchall() == [("old",)]


# -- every request gets a row; damaged and read-only ledger files (issue 10 §7)


def _interrupt_after(seconds: float) -> None:
    """A real SIGINT, as Jupyter's interrupt sends: it wakes a sleep or a blocking read."""
    import threading

    threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT)).start()


@pytest.mark.parametrize("fault", ["server_error;retry_after=30", "slow_start;seconds=30"],
                         ids=["during retry backoff", "during a non-streamed call"])
def test_an_interrupt_still_writes_the_row(server, tmp_path, fault) -> None:
    from nbmessages import Client

    ledger = Ledger(tmp_path / "u.sqlite")
    c = Client(base_url=server.base_url, ledger=ledger, max_retries=2, default_headers={"x-nbmessages-fault": fault})
    _interrupt_after(0.5)
    with pytest.raises(KeyboardInterrupt):
        c.messages.create(model="claude-sonnet-4-5", max_tokens=20, messages="hi")
    (row,) = ledger.rows()
    assert row["outcome"] == "interrupted" and row["streamed"] == 0
    assert row["retries"] == (1 if "retry" in fault else 0)


def test_a_cancelled_async_call_writes_the_row(server, tmp_path) -> None:
    import asyncio

    from nbmessages import AsyncClient

    ledger = Ledger(tmp_path / "u.sqlite")

    async def main() -> None:
        c = AsyncClient(base_url=server.base_url, ledger=ledger,
                        default_headers={"x-nbmessages-fault": "slow_start;seconds=30"})
        task = asyncio.ensure_future(c.messages.create(model="claude-sonnet-4-5", max_tokens=20, messages="hi"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [r["outcome"] for r in ledger.rows()] == ["interrupted"]


def test_a_corrupt_file_is_moved_aside_once_and_recording_goes_on(server, tmp_path) -> None:
    from nbmessages import Client

    path = tmp_path / "usage.sqlite"
    path.write_bytes(b"this is not an SQLite database, just garbage " * 100)
    c = Client(base_url=server.base_url, ledger=Ledger(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            c.messages.create(model="claude-sonnet-4-5", max_tokens=20, messages="hi")
    said = [str(w.message) for w in caught if "ledger" in str(w.message)]
    assert len(said) == 1 and "moved aside" in said[0]
    (aside,) = tmp_path.glob("usage.sqlite.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not") and str(aside) in said[0]
    assert len(Ledger(path).rows()) == 3


def test_a_damaged_file_says_how_many_rows_it_could_not_read(tmp_path) -> None:
    import nbmessages

    path = tmp_path / "usage.sqlite"
    ledger = Ledger(path)
    import uuid

    one = ledger_mod.row_of(record())
    ledger.insert_rows([(uuid.uuid4().hex, *one[1:]) for _ in range(3000)])
    ledger.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = ledger.connection.execute("PRAGMA page_size").fetchone()[0]
    # a leaf page of the calls table itself (its id index's pages interleave with them, and a scan skips those)
    leaves = [n for (n,) in ledger.connection.execute(
        "SELECT pageno FROM dbstat WHERE name = 'calls' AND pagetype = 'leaf' ORDER BY pageno")]
    ledger.close()
    data = bytearray(path.read_bytes())
    start = (leaves[len(leaves) // 2] - 1) * page
    data[start:start + page] = b"\xff" * page
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match=r"damaged .*holds 3000 rows and only \d+ could be read"):
        df = nbmessages.usage(ledger=Ledger(path))
    assert 2000 < len(df) < 3000


def test_usage_reads_a_ledger_in_a_read_only_place(tmp_path) -> None:
    import shutil
    import tempfile
    import traceback

    import nbmessages

    folder = Path(tempfile.mkdtemp(prefix="nbmessages-ro-"))  # /tmp: reachable by the unprivileged child
    folder.chmod(0o755)
    ledger = Ledger(folder / "usage.sqlite")
    for _ in range(3):
        ledger.record(record())
    ledger.close()
    assert len(nbmessages.usage(ledger=Ledger(tmp_path / "warm.sqlite"))) == 0  # load pandas, ADBC, pyarrow now
    os.chmod(folder / "usage.sqlite", 0o444)
    os.chmod(folder, 0o555)
    try:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a child that cannot write there, even when the tests run as root
            code = 1
            try:
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)
                code = 0 if len(nbmessages.usage(ledger=Ledger(folder / "usage.sqlite"))) == 3 else 2
            except BaseException:  # noqa: BLE001 - reported to the parent
                os.write(write, traceback.format_exc().encode()[-2000:])
            os._exit(code)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        said = os.read(read, 2000).decode()
        assert os.waitstatus_to_exitcode(status) == 0, said
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder)


def test_an_interrupt_while_a_stream_waits_to_retry_writes_the_row(server, tmp_path) -> None:
    from nbmessages import Client

    ledger = Ledger(tmp_path / "u.sqlite")
    c = Client(base_url=server.base_url, ledger=ledger, max_retries=2,
               default_headers={"x-nbmessages-fault": "overloaded;retry_after=30"})
    _interrupt_after(0.5)
    with pytest.raises(KeyboardInterrupt), c.messages.stream(model="claude-sonnet-4-5", max_tokens=20,
                                                             messages="hi") as s:
        s.get_final_message()
    (row,) = ledger.rows()
    assert (row["outcome"], row["streamed"], row["retries"]) == ("interrupted", 1, 1)


def test_a_ledger_that_cannot_record_warns_once_not_per_call(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    (obs,) = observers({"ledger": str(blocker / "sub" / "u.sqlite")})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            obs.record(record())
    assert len([w for w in caught if "could not record" in str(w.message)]) == 1
