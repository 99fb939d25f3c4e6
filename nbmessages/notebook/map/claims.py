"""Which partition of a map over Dask sends each distinct request: a claim per request hash in the ledger.

Every partition claims its requests' hashes when it starts (``INSERT OR IGNORE`` in one transaction, which
SQLite makes atomic across the worker processes sharing the ledger file), sends those it won, and takes the
others' answers from ``map_results`` once their owners mark them done. An owner beats while it sends; a claim
whose owner fell silent for ``STALE`` seconds (its worker died) is taken over, and a partition Dask runs again
(same partition number) owns its claims again, so no request waits forever and none is sent twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ...ledger.schema import now_micros, parameter_chunks
from ...ledger.store import Ledger

STALE = 30.0  # seconds without a beat before another partition takes a claim over
BEAT = 2.0  # seconds between an owner's beats
POLL = 0.05  # seconds between looks at the claims a partition waits for


@dataclass(frozen=True)
class Settled:
    """What became of a request another partition sent: ``done`` (its answer is in map_results) or ``error``."""

    state: str
    error_type: str | None = None
    error: str | None = None


class Claims:
    """The claims of one map call (``run``) in a ledger's ``map_claims`` table."""

    def __init__(self, ledger: Ledger, run: str) -> None:
        self.ledger, self.run = ledger, run

    def claim(self, owner: str, keys: Sequence[str]) -> list[str]:
        """Claim these request hashes for ``owner``; returns the ones it is to send (won now, or earlier)."""
        mine: list[str] = []
        now = now_micros()
        with self.ledger.transaction() as conn:
            for part in parameter_chunks(keys):
                conn.executemany("INSERT OR IGNORE INTO map_claims (run, request_hash, owner, state, ts) "
                                 "VALUES (?, ?, ?, 'claimed', ?)", [(self.run, k, owner, now) for k in part])
                marks = ", ".join("?" * len(part))
                cur = conn.execute(f"SELECT request_hash FROM map_claims WHERE run = ? AND owner = ? "
                                   f"AND state = 'claimed' AND request_hash IN ({marks})", (self.run, owner, *part))
                mine += [r[0] for r in cur]
            conn.execute("UPDATE map_claims SET ts = ? WHERE run = ? AND owner = ? AND state = 'claimed'",
                         (now, self.run, owner))
        return mine

    def settle(self, key: str, error_type: str | None = None, error: str | None = None) -> None:
        """Mark a sent request done (its answer already in map_results) or failed."""
        with self.ledger.transaction() as conn:
            conn.execute("UPDATE map_claims SET state = ?, error_type = ?, error = ?, ts = ? "
                         "WHERE run = ? AND request_hash = ?",
                         ("done" if error_type is None else "error", error_type, error, now_micros(), self.run, key))

    @contextmanager
    def beating(self, owner: str) -> Iterator[None]:
        """Keep ``owner``'s claims fresh while the block runs (its sends may wait long on the rate limit)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(BEAT):
                with self.ledger.transaction() as conn:
                    conn.execute("UPDATE map_claims SET ts = ? WHERE run = ? AND owner = ? AND state = 'claimed'",
                                 (now_micros(), self.run, owner))

        thread = threading.Thread(target=beat, name="nbmessages-claims", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def wait(self, owner: str, keys: Sequence[str]) -> tuple[dict[str, Settled], list[str]]:
        """Wait until other partitions settled these claims; returns them, and the ones taken over (to send)."""
        settled: dict[str, Settled] = {}
        taken: list[str] = []
        pending = list(keys)
        while pending:
            stale = now_micros() - int(STALE * 1e6)
            with self.ledger.transaction() as conn:
                for part in parameter_chunks(pending):
                    marks = ", ".join("?" * len(part))
                    conn.execute(f"UPDATE map_claims SET owner = ?, ts = ? WHERE run = ? AND state = 'claimed' "
                                 f"AND ts < ? AND request_hash IN ({marks})", (owner, now_micros(), self.run, stale, *part))
                    cur = conn.execute(f"SELECT request_hash, state, owner, error_type, error FROM map_claims "
                                       f"WHERE run = ? AND request_hash IN ({marks})", (self.run, *part))
                    for key, state, who, kind, error in cur:
                        if state != "claimed":
                            settled[key] = Settled(state, kind, error)
                        elif who == owner:
                            taken.append(key)
            pending = [k for k in pending if k not in settled and k not in taken]
            if taken:
                return settled, taken
            if pending:
                time.sleep(POLL)
        return settled, taken
