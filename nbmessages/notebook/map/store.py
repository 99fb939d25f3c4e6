"""Finished answers by request hash, in the ledger's database (table ``map_results``): resume and dedupe.

A request's hash covers the backend (profile and base URL) and the canonical JSON body exactly as sent,
so the same row asked of the same backend finds its answer again after an interrupt or a dead kernel.
Answers are written in one transaction every ``FLUSH_EVERY`` seconds while a map runs (a commit per answer
cost a fifth of the map's CPU at 200 answers a second); a killed process loses at most that last moment's
answers, which a resumed run asks again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...ledger.schema import now_micros, parameter_chunks
from ...ledger.store import Ledger, LedgerObserver
from ...types import Message

FLUSH_EVERY = 0.1  # seconds
_PUT = ("INSERT OR REPLACE INTO map_results (request_hash, map_id, ts, message, cost_usd, duration, extra) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)")


def request_hash(profile: str, base_url: str, body: dict[str, Any]) -> str:
    """The sha256 (hex) of a backend and a body (``stream`` left out: both forms give the same answer)."""
    return backend_hash(profile, base_url, canonical(body))


def canonical(body: dict[str, Any]) -> str:
    """A body as the hashes read it: sorted keys, no spaces, ``stream`` left out."""
    return json.dumps({k: v for k, v in body.items() if k != "stream"}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)


def backend_hash(profile: str, base_url: str, canonical_body: str) -> str:
    """The sha256 (hex) of a backend and a canonical body (``request_hash`` of the body it came from)."""
    return hashlib.sha256(f"{profile}\n{base_url}\n{canonical_body}".encode()).hexdigest()


@dataclass
class Stored:
    """An answer found in the store."""

    message: Message
    cost_usd: float | None
    duration: float | None
    extra: dict[str, Any]


def ledger_of(client: Any) -> Ledger | None:
    """The ledger a client records into (None when it records nowhere)."""
    return next((o.ledger for o in getattr(client, "observers", ()) if isinstance(o, LedgerObserver)), None)


class ResultStore:
    """The ``map_results`` table of a ledger; without a ledger, nothing is kept between runs."""

    def __init__(self, ledger: Ledger | None) -> None:
        self.ledger = ledger
        self.pending: list[tuple[Any, ...]] = []

    def find(self, hashes: Iterable[str]) -> dict[str, Stored]:
        """The stored answers among these request hashes."""
        if self.ledger is None:
            return {}
        wanted = list(dict.fromkeys(hashes))
        conn = self.ledger.connection
        found: dict[str, Stored] = {}
        for part in parameter_chunks(wanted):
            sql = ("SELECT request_hash, message, cost_usd, duration, extra FROM map_results "
                   f"WHERE request_hash IN ({', '.join('?' * len(part))})")
            for key, message, cost, duration, extra in conn.execute(sql, part):
                found[key] = Stored(Message.model_validate_json(message), cost, duration,
                                    json.loads(extra) if extra else {})
        return found

    def put(self, key: str, map_id: str, message: Message, cost_usd: float | None, duration: float,
            extra: dict[str, Any] | None = None) -> None:
        """Keep one answer (a later answer to the same request replaces it), written at the next ``flush()``."""
        if self.ledger is None:
            return
        self.pending.append((key, map_id, now_micros(),
                             message.model_dump_json(exclude_none=True, by_alias=True), cost_usd, duration,
                             json.dumps(extra) if extra else None))

    def flush(self) -> int:
        """Write the answers kept since the last flush, in one transaction; how many."""
        if self.ledger is None or not self.pending:
            return 0
        rows, self.pending = self.pending, []
        with self.ledger.transaction() as conn:  # the ledger's lock: its calls share the connection
            conn.executemany(_PUT, rows)
        return len(rows)

    def count(self, map_id: str) -> int:
        """How many answers a map has stored."""
        if self.ledger is None:
            return 0
        return int(self.ledger.connection.execute(
            "SELECT count(*) FROM map_results WHERE map_id = ?", (map_id,)).fetchone()[0])

    def forget(self, map_id: str | None = None) -> int:
        """Delete the stored answers of one map (or of every map); returns how many went."""
        if self.ledger is None:
            return 0
        where, params = ("WHERE map_id = ?", (map_id,)) if map_id is not None else ("", ())
        return self.ledger.connection.execute(f"DELETE FROM map_results {where}", params).rowcount
