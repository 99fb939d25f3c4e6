"""Batch runs in the ledger database: which batches a run submitted and what became of each row.

No request or answer content is stored here (the ledger keeps content only with ``log_content``): results are
read again from the provider, which keeps them for 29 days.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .store import Ledger, to_micros

FINAL = ("succeeded", "errored", "canceled", "expired")
COLLECTED = "collected"


@dataclass(frozen=True)
class Job:
    """One submitted batch of a run."""

    batch_id: str
    run: str
    round: int
    status: str  # in_progress | canceling | ended | collected
    counts: dict[str, int]


def _now() -> int:
    return to_micros(datetime.now(timezone.utc))


class BatchJobs:
    """The batch tables of one ledger database."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def _write(self, statements: Iterable[tuple[str, Sequence[Any] | Iterable[Sequence[Any]], bool]]) -> None:
        """Run (sql, params, many) statements in one transaction."""
        with self.ledger.transaction() as conn:
            for sql, params, many in statements:
                if many:
                    conn.executemany(sql, params)
                else:
                    conn.execute(sql, params)  # type: ignore[arg-type]

    def run_ids(self, run: str) -> list[str] | None:
        """The custom ids of a run's rows in row order, or None if the run is unknown."""
        row = self.ledger.connection.execute("SELECT custom_ids FROM batch_runs WHERE run = ?", (run,)).fetchone()
        return None if row is None else list(json.loads(row[0]))

    def add_run(self, run: str, custom_ids: Sequence[str]) -> None:
        """Remember a new run and its rows' custom ids."""
        self._write([("INSERT INTO batch_runs (run, created, custom_ids) VALUES (?, ?, ?)",
                      (run, _now(), json.dumps(list(custom_ids))), False)])

    def latest_run(self) -> str | None:
        """The most recently created run that still has batches not collected, else the most recent one."""
        conn = self.ledger.connection
        row = conn.execute("SELECT run FROM batch_jobs WHERE status != ? ORDER BY created DESC LIMIT 1",
                           (COLLECTED,)).fetchone()
        row = row or conn.execute("SELECT run FROM batch_runs ORDER BY created DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def add_job(self, run: str, batch_id: str, round_: int, profile: str, base_host: str,
                custom_ids: Sequence[str]) -> None:
        """A batch just created, with its rows, in one transaction."""
        self._write([
            ("INSERT INTO batch_jobs (batch_id, run, round, profile, base_host, created, status) "
             "VALUES (?, ?, ?, ?, ?, ?, 'in_progress')", (batch_id, run, round_, profile, base_host, _now()), False),
            ("INSERT INTO batch_rows (run, custom_id, batch_id, status) VALUES (?, ?, ?, 'submitted')",
             [(run, cid, batch_id) for cid in custom_ids], True),
        ])

    def jobs(self, run: str) -> list[Job]:
        """The run's batches, oldest first."""
        cur = self.ledger.connection.execute(
            "SELECT batch_id, run, round, status, counts FROM batch_jobs WHERE run = ? ORDER BY created, rowid",
            (run,))
        return [Job(b, r, n, s, json.loads(c) if c else {}) for b, r, n, s, c in cur]

    def set_status(self, batch_id: str, status: str, counts: dict[str, int]) -> None:
        """The status and counts a poll saw."""
        self._write([("UPDATE batch_jobs SET status = ?, counts = ? WHERE batch_id = ?",
                      (status, json.dumps(counts), batch_id), False)])

    def set_rows(self, run: str, batch_id: str, outcomes: Sequence[tuple[str, str, str | None, str | None]]) -> None:
        """Rows' outcomes ``(custom_id, status, error_type, error)`` from a batch's results."""
        self._write([("UPDATE batch_rows SET status = ?, error_type = ?, error = ? "
                      "WHERE run = ? AND custom_id = ? AND batch_id = ?",
                      [(s, t, e, run, cid, batch_id) for cid, s, t, e in outcomes], True)])

    def rows(self, run: str) -> dict[str, tuple[str, str, str | None, str | None]]:
        """Each custom id's latest ``(batch_id, status, error_type, error)`` (the last round that holds it)."""
        cur = self.ledger.connection.execute(
            "SELECT r.custom_id, r.batch_id, r.status, r.error_type, r.error FROM batch_rows r "
            "JOIN batch_jobs j ON j.batch_id = r.batch_id WHERE r.run = ? ORDER BY j.round, j.created", (run,))
        return {cid: (b, s, t, e) for cid, b, s, t, e in cur}
