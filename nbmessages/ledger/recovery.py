"""A ledger file that cannot be written as usual: corrupt (moved aside once, a new file started) or read-only."""

from __future__ import annotations

import os
import sqlite3
import warnings
from datetime import datetime, timezone
from pathlib import Path

_CORRUPT = ("file is not a database", "database disk image is malformed", "malformed database schema")
_READ_ONLY = ("readonly database", "unable to open database file", "read-only file system")


def is_corrupt(exc: BaseException) -> bool:
    """Whether an SQLite error (sqlite3's or the ADBC driver's) says the file itself is damaged."""
    return any(s in str(exc).lower() for s in _CORRUPT)


def is_read_only(exc: BaseException, path: str) -> bool:
    """Whether an SQLite error comes from a file that exists but may not be written."""
    return isinstance(exc, sqlite3.OperationalError) and Path(path).exists() and any(
        s in str(exc).lower() for s in _READ_ONLY)


def writable(path: str) -> bool:
    """Whether the ledger file (or, for a new one, its folder) and its folder can be written."""
    file, folder = Path(path), Path(path).parent
    return os.access(folder, os.W_OK) and (not file.exists() or os.access(file, os.W_OK))


def move_aside(path: str, exc: BaseException) -> Path:
    """Rename a damaged ledger (and its -wal/-shm) to ``<name>.corrupt-<UTC time>``; warn once, here."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = Path(f"{path}.corrupt-{stamp}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        if Path(path + suffix).exists():
            os.replace(path + suffix, f"{target}{suffix}")
    warnings.warn(
        f"nbmessages: the usage ledger {path!r} is damaged ({exc}); it was moved aside to {str(target)!r} "
        "and a new ledger was started (calls are recorded again)", RuntimeWarning, stacklevel=4,
    )
    return target


def read_only_uri(path: str) -> str:
    """The URI that reads a ledger in a place that may not be written, WAL files included if possible."""
    uri = Path(path).resolve().as_uri()
    try:  # a WAL database needs its -shm: writable, or already there
        with sqlite3.connect(f"{uri}?mode=ro", uri=True) as probe:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return f"{uri}?mode=ro"
    except sqlite3.OperationalError:
        return f"{uri}?immutable=1"  # nothing may change it: read the main file as it is


def salvage(conn: sqlite3.Connection, sql: str, chunk: int = 1024) -> tuple[list[tuple[object, ...]], int]:
    """The rows of a damaged table that can still be read (``sql`` takes a rowid range), and how many it holds."""
    highest = _first_answer(conn, "SELECT max(rowid) FROM calls", "SELECT count(*) FROM calls")
    held = _first_answer(conn, "SELECT count(*) FROM calls", "SELECT max(rowid) FROM calls")
    if highest is None:
        raise sqlite3.DatabaseError("the ledger's table cannot be read at all; move the file aside")

    def read(lo: int, hi: int) -> list[tuple[object, ...]]:
        try:
            return conn.execute(sql, (lo, hi)).fetchall()
        except sqlite3.DatabaseError:
            if lo >= hi:
                return []
            mid = (lo + hi) // 2
            return read(lo, mid) + read(mid + 1, hi)

    rows = [row for lo in range(0, highest + 1, chunk) for row in read(lo, lo + chunk - 1)]
    return rows, max(held or 0, len(rows))


def _first_answer(conn: sqlite3.Connection, *queries: str) -> int | None:
    for query in queries:
        try:
            return int(conn.execute(query).fetchone()[0] or 0)
        except sqlite3.DatabaseError:
            continue
    return None
