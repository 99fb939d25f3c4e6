"""The usage ledger: one SQLite row per call (WAL, versioned schema), and the client's observer factory.

Never stores the API key; stores message content only when ``log_content`` is on. The client's calls are
written in batches (``record(..., batched=True)``): at once when the ledger has been quiet for ``FLUSH_EVERY``
seconds, else with the others of that moment in one transaction (a commit per call cost a tenth of a map's
CPU at 200 calls a second). Pending calls are written before any read through this object, on ``close()``,
at exit and by a timer, so an interrupt or an exception loses none; a killed process loses at most that
last fraction of a second.
"""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..client.observers import CallRecord, Observer, SpendingGuard
from ..request.profiles import profile_of
from ..types import Message
from ..types.redact import scrub, scrub_value
from . import frames, prices, recovery
from .budget import Budget
from .schema import BUSY_TIMEOUT_MS, COLUMNS, MEMORY, MIGRATIONS, to_micros

ENV_VAR = "NBMESSAGES_LEDGER"

_INSERT = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_INSERT_OR_IGNORE = _INSERT.replace("INSERT", "INSERT OR IGNORE", 1)
FLUSH_EVERY = 0.1  # seconds a batched call may wait to be written


def default_path() -> str:
    """The default ledger: $NBMESSAGES_LEDGER, else ~/.nbmessages/usage.sqlite."""
    return os.environ.get(ENV_VAR) or str(Path("~/.nbmessages/usage.sqlite").expanduser())


def _output_tps(output: int | None, duration: float, ttft: float | None) -> float | None:
    """Output tokens per second of generation (after the first token when known)."""
    span = duration - ttft if ttft is not None and duration > ttft else duration
    return output / span if output and span and span > 0 else None


def _content(rec: CallRecord) -> str | None:
    """The request and response as JSON (only called when content logging is on)."""
    body = {
        "request": rec.params.to_dict() if rec.params is not None else None,
        "response": rec.message.to_dict() if rec.message is not None else None,
    }
    return scrub(json.dumps(scrub_value(body), ensure_ascii=False, default=str))


def row_of(rec: CallRecord, tags: dict[str, Any] | None = None, log_content: bool = False) -> tuple[Any, ...]:
    """The ledger row of a call record, priced, in COLUMNS order."""
    msg: Message | None = rec.message
    u = msg.usage if msg is not None else None
    model = (msg.model if msg is not None else "") or rec.model_requested
    backend = profile_of(rec.profile, rec.base_host)
    provider_id = backend.price_provider if backend is not None else None
    hit = rec.response_cache == "HIT"
    cost = prices.cost_of(u, model, provider_id, rec.started_at, response_cache_hit=hit)
    if cost.usd is None and model != rec.model_requested and cost.source == prices.UNKNOWN and u is not None:
        cost = prices.cost_of(u, rec.model_requested, provider_id, rec.started_at)
    router = msg.router if msg is not None else None
    split = u.cache_creation if u is not None else None
    tools = u.server_tool_use if u is not None else None
    details = u.output_tokens_details if u is not None else None
    all_tags = {**(tags or {}), **(rec.tags or {})}
    provider = (msg.provider if msg is not None else None) or (backend.provider_label if backend is not None else None)
    output = u.output_tokens if u is not None else None
    return (
        uuid.uuid4().hex, to_micros(rec.started_at),
        (msg.id or None) if msg is not None else None, rec.request_id, rec.generation_id,
        rec.profile, rec.base_host, rec.model_requested, (msg.model or None) if msg is not None else None,
        provider, rec.session_id, rec.chat, int(bool(rec.streamed)),
        rec.outcome, rec.status_code, scrub(rec.error_message or "") or None, msg.stop_reason if msg is not None else None,
        u.input_tokens if u else None, output, u.cache_creation_input_tokens if u else None,
        split.ephemeral_5m_input_tokens if split else None, split.ephemeral_1h_input_tokens if split else None,
        u.cache_read_input_tokens if u else None, details.thinking_tokens if details else None,
        tools.web_search_requests if tools else None, tools.web_fetch_requests if tools else None,
        u.service_tier if u else None,
        rec.ttft, rec.duration, _output_tps(output, rec.duration, rec.ttft), rec.retries,
        cost.usd, cost.source, json.dumps(all_tags, sort_keys=True, default=str) if all_tags else None,
        _content(rec) if log_content else None, int(rec.output_counted), int(rec.simulated),
        rec.response_cache, router.headline() if router is not None else None, rec.availability,
    )


class Ledger:
    """An SQLite usage ledger (WAL mode; safe for several processes and kernels writing at once)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        raw = os.fspath(path) if path is not None else default_path()
        self.path = raw if raw == MEMORY else str(Path(raw).expanduser())
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self.read_uri: str | None = None  # how readers open the file when it may not be written
        self._pending: list[tuple[Any, ...]] = []  # batched calls not written yet
        self._written_at = 0.0  # time.monotonic() of the last write of batched calls
        self._timer: threading.Timer | None = None
        self._said: set[str] = set()
        _live.add(self)

    def __del__(self) -> None:
        if getattr(self, "_pending", None) and self._pid == os.getpid():
            self.flush()
        conn = getattr(self, "_conn", None)
        if conn is not None and self._pid == os.getpid():
            conn.close()  # sqlite3 connections sit in a reference cycle: close now, not at some gc

    def __repr__(self) -> str:
        return f"Ledger({self.path!r})"

    # -- connection and schema -------------------------------------------------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (reopened after a fork, schema migrated on first use), pending calls written:
        what is read through it is up to date."""
        _flush_pending(self.path)
        return self._connection()

    def _connection(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            with self._lock:
                if self._conn is None or self._pid != os.getpid():
                    self._conn, self._pid = self._open(), os.getpid()
                conn = self._conn
        return conn

    def _open(self) -> sqlite3.Connection:
        """Open, configure and migrate the database; a damaged file is moved aside, a read-only one read."""
        if self.path == MEMORY:
            return self._connect()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if not recovery.writable(self.path) and Path(self.path).exists():
            return self._connect_read_only()
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if recovery.is_read_only(exc, self.path):
                return self._connect_read_only()
            if not recovery.is_corrupt(exc):
                raise
            recovery.move_aside(self.path, exc)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path != MEMORY:
                _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a killed process loses no commit
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """A ledger in a place that may not be written: read it as it is (recording then fails, warned)."""
        self.read_uri = recovery.read_only_uri(self.path)
        conn = sqlite3.connect(self.read_uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn

    @property
    def schema_version(self) -> int:
        """The schema version (PRAGMA user_version) of the open ledger."""
        return self.connection.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        """Write the pending calls and close the connection (it reopens on next use)."""
        with self._lock:
            self.flush()
            self._drop_connection()

    def _drop_connection(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def release_after_fork(self) -> sqlite3.Connection | None:
        """In a forked child: let go of the parent's connection without closing it (that could corrupt the
        parent's WAL) and return it for safe keeping; the next use opens a connection of the child's own."""
        conn, self._conn = self._conn, None
        self._pending, self._timer = [], None  # the parent writes its own pending calls; no timer came along
        return conn

    # -- writing ---------------------------------------------------------------------------------

    def record(
        self, record: CallRecord, *, tags: dict[str, Any] | None = None, log_content: bool = False,
        batched: bool = False,
    ) -> str:
        """Write one call (priced now) and commit it; returns the row's id.

        ``batched``: written within ``FLUSH_EVERY`` seconds with the other calls of that moment, in one
        transaction (at once when none was written for ``FLUSH_EVERY``); a later write's failure is warned.
        """
        row = row_of(record, tags, log_content)
        with self._lock:
            self._pending.append(row)
            if not batched or time.monotonic() - self._written_at >= FLUSH_EVERY:
                self._flush()
            elif self._timer is None:
                self._timer = threading.Timer(FLUSH_EVERY, self._on_timer)
                self._timer.daemon = True  # what it would write at exit, the atexit hook writes
                self._timer.start()
        return row[0]

    @property
    def pending(self) -> int:
        """How many batched calls wait to be written."""
        return len(self._pending)

    def flush(self) -> int:
        """Write the pending (batched) calls now, in one transaction; how many. A failure is warned (once)."""
        try:
            return self._flush()
        except Exception as exc:  # noqa: BLE001 - a timer, a reader, close or exit: nobody to raise to
            said = f"nbmessages: usage ledger {self.path!r} could not record calls: {exc}"
            if said not in self._said:
                self._said.add(said)
                warnings.warn(f"{said} (said once)", RuntimeWarning, stacklevel=2)
            return 0

    def _flush(self) -> int:
        with self._lock:
            count = len(self._pending)
            if not count:
                return 0
            try:
                try:
                    with self.transaction():
                        pass  # a transaction begins by writing the pending calls
                except sqlite3.DatabaseError as exc:  # damaged since it was opened: set aside, use a new file
                    if not recovery.is_corrupt(exc) or self.path == MEMORY:
                        raise
                    self._drop_connection()
                    recovery.move_aside(self.path, exc)
                    with self.transaction():
                        pass
            except Exception:
                del self._pending[:count]  # not written, as an unbatched call would not be: the caller is told
                raise
            return count

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            self.flush()

    def insert_rows(self, rows: Iterable[Sequence[Any]], columns: Sequence[str] = COLUMNS) -> int:
        """Insert raw rows (skipping ids already present) in one transaction; returns how many were new."""
        sql = _INSERT_OR_IGNORE if tuple(columns) == COLUMNS else (
            f"INSERT OR IGNORE INTO calls ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        )
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(sql, rows)
        return conn.total_changes - before

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction under this ledger's lock: committed, or rolled back.

        It begins by writing the pending calls, so what it stores (a map's answers, say) is never kept
        without the record of the call behind it."""
        with self._lock:
            conn = self._connection()
            pending = len(self._pending)
            conn.execute("BEGIN IMMEDIATE")
            try:
                if pending:
                    conn.executemany(_INSERT, self._pending[:pending])
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if pending:
                del self._pending[:pending]
                self._written_at = time.monotonic()

    # -- reading, export and merge ---------------------------------------------------------------

    def __len__(self) -> int:
        return self.connection.execute("SELECT count(*) FROM calls").fetchone()[0]

    def rows(self, where: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Raw rows as dicts (for small queries; use nbmessages.usage() for analysis)."""
        cur = self.connection.execute(f"SELECT {', '.join(COLUMNS)} FROM calls {where}", params)
        return [dict(zip(COLUMNS, r, strict=True)) for r in cur]

    def usage(self, **filters: Any) -> Any:
        """This ledger's calls as a pandas DataFrame (see nbmessages.usage.usage)."""
        return frames.usage(ledger=self, **filters)

    @property
    def lock(self) -> threading.RLock:
        """The lock writers of this ledger object hold."""
        return self._lock

    def fill_costs(self, client: Any, limit: int = 100) -> int:
        """Fill in from OpenRouter's generation records the cost of calls whose answer carried none."""
        from .lookup import fill_costs

        return fill_costs(self, client, limit)

    def export(self, path: str | os.PathLike[str]) -> int:
        """Write every call to a .csv or .parquet file (timestamps as UTC); returns the row count."""
        return frames.export_frame(self, Path(path))

    def import_(self, path: str | os.PathLike[str]) -> int:
        """Merge an exported ledger (.csv, .parquet or .sqlite) into this one; returns the new rows' count."""
        p = Path(path)
        if p.suffix.lower() in (".sqlite", ".sqlite3", ".db"):
            return self.merge(Ledger(p))
        columns, rows = frames.read_export(p)
        return self.insert_rows(rows, columns)

    def merge(self, other: Ledger | str | os.PathLike[str]) -> int:
        """Merge another ledger or an exported file into this one without duplicating rows."""
        if not isinstance(other, Ledger):
            return self.import_(other)
        cur = other.connection.execute(f"SELECT {', '.join(COLUMNS)} FROM calls")
        return self.insert_rows(cur)


def migrate(conn: sqlite3.Connection, steps: Sequence[str] | None = None) -> int:
    """Bring a ledger's schema up to date (one transaction; concurrent openers are serialised)."""
    steps = MIGRATIONS if steps is None else steps
    if conn.execute("PRAGMA user_version").fetchone()[0] >= len(steps):
        return len(steps)
    _retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for i in range(version, len(steps)):
            for statement in filter(str.strip, steps[i].split(";\n")):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {max(version, len(steps))}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(version, len(steps))


def _retry_locked(action: Any, attempts: int = 50) -> Any:
    """Run an SQLite action, retrying while another process holds the lock."""
    for i in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or i == attempts - 1:
                raise
            time.sleep(0.05)


_live: weakref.WeakSet[Ledger] = weakref.WeakSet()
_inherited: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    """In a forked child, set aside the parent's connections: closing them here could corrupt its WAL."""
    for led in list(_live):
        if (conn := led.release_after_fork()) is not None:
            _inherited.append(conn)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _flush_pending(path: str) -> None:
    """Write the pending calls of every ledger object of this file in this process: a read sees them all."""
    for led in list(_live):
        if led.pending and led.path == path:
            led.flush()


@atexit.register
def _write_pending_at_exit() -> None:
    """At exit (a normal end, an uncaught exception, sys.exit): every ledger writes its pending calls."""
    for led in list(_live):
        led.close()


# -- default ledgers and the client's observers --------------------------------------------------

_ledgers: dict[str, Ledger] = {}
_ledgers_lock = threading.Lock()


def get_ledger(path: str | os.PathLike[str] | None = None) -> Ledger:
    """The shared Ledger for a path (default: the default ledger); one per path per process."""
    raw = os.fspath(path) if path is not None else default_path()
    key = raw if raw == MEMORY else str(Path(raw).expanduser().resolve())
    with _ledgers_lock:
        if key not in _ledgers:
            _ledgers[key] = Ledger(raw)
        return _ledgers[key]


class LedgerObserver:
    """Records every call of a client into a ledger; a ledger failure is only a warning."""

    def __init__(self, ledger: Ledger, tags: dict[str, Any] | None = None, log_content: bool = False) -> None:
        self.ledger = ledger
        self.tags = dict(tags or {})
        self.log_content = log_content
        self._said: set[str] = set()

    def before_request(self, params: Any) -> None:
        """Nothing to check before a call."""

    def record(self, record: CallRecord) -> None:
        """Write the call; never raises."""
        try:
            self.ledger.record(record, tags=self.tags, log_content=self.log_content, batched=True)
        except Exception as exc:  # noqa: BLE001 - the answer must still arrive
            said = f"nbmessages: usage ledger {self.ledger.path!r} could not record a call: {exc}"
            if said not in self._said:  # once per problem, not once per call
                self._said.add(said)
                warnings.warn(f"{said} (said once)", stacklevel=2)


def _ledger_of(option: Any) -> Ledger | None:
    """The ledger an option names: None default, False none, a path, ':memory:' or a Ledger."""
    if option is False:
        return None
    if isinstance(option, Ledger):
        return option
    return get_ledger(None if option in (None, True) else option)


def observers(options: dict[str, Any]) -> list[Observer]:
    """The observers of a new client: its ledger recorder and its budget guard, from its options."""
    result: list[Observer] = []
    try:
        ledger = _ledger_of(options.get("ledger"))
    except Exception as exc:  # noqa: BLE001 - a bad ledger option must not stop the client
        warnings.warn(f"nbmessages: usage ledger unavailable ({exc}); calls will not be recorded", stacklevel=2)
        ledger = None
    if ledger is not None:
        result.append(LedgerObserver(ledger, options.get("tags"), bool(options.get("log_content"))))
    budget = options.get("budget")
    if isinstance(budget, SpendingGuard):  # a ready-made guard (shared between clients): used as it is
        result.append(budget)
    elif budget is not None:
        result.append(Budget(float(budget), prices.provider_id(options.get("profile"), options.get("base_host"))))
    return result
