"""Batch runs in the ledger database: which batches a run submitted and what became of each row.

A batch is recorded before its create is sent (status ``submitting``, a placeholder id), so a kernel that dies
during create leaves a record to reconcile, never a batch nobody knows of. Each row's request body is kept
(``batch_bodies``) so a run resumed in a new process can resubmit rows; answers are not kept here: results are
read again from the provider, which keeps them for 29 days.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .schema import now_micros, parameter_chunks
from .store import Ledger

FINAL = ("succeeded", "errored", "canceled", "expired")
COLLECTED = "collected"
SUBMITTING = "submitting"  # recorded, create sent or about to be: the provider may or may not have the batch
PLACEHOLDER = "submitting-"  # the batch_id prefix of a record whose create has not answered


@dataclass(frozen=True)
class Job:
    """One submitted batch of a run."""

    batch_id: str
    run: str
    round: int
    status: str  # submitting | in_progress | canceling | ended | collected
    counts: dict[str, int]
    created: int = 0  # when it was recorded, microseconds since the epoch (before create was sent)


_PUT_BODY = "INSERT OR IGNORE INTO batch_bodies (run, custom_id, body) VALUES (?, ?, ?)"


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

    def add_run(self, run: str, custom_ids: Sequence[str], bodies: dict[str, str]) -> None:
        """Remember a new run, its rows' custom ids and their request bodies (JSON), in one transaction."""
        self._write([("INSERT INTO batch_runs (run, created, custom_ids) VALUES (?, ?, ?)",
                      (run, now_micros(), json.dumps(list(custom_ids))), False),
                     (_PUT_BODY, [(run, c, b) for c, b in bodies.items()], True)])

    def add_bodies(self, run: str, bodies: dict[str, str]) -> None:
        """Keep the request bodies a run does not hold yet (one started before they were kept)."""
        row = self.ledger.connection.execute("SELECT count(*) FROM batch_bodies WHERE run = ?", (run,)).fetchone()
        if row[0] < len(bodies):
            self._write([(_PUT_BODY, [(run, c, b) for c, b in bodies.items()], True)])

    def bodies(self, run: str, custom_ids: Sequence[str]) -> dict[str, str]:
        """The request bodies (JSON) kept for these rows of a run."""
        found: dict[str, str] = {}
        conn = self.ledger.connection
        for part in parameter_chunks(custom_ids):
            sql = ("SELECT custom_id, body FROM batch_bodies "
                   f"WHERE run = ? AND custom_id IN ({', '.join('?' * len(part))})")
            found.update(conn.execute(sql, (run, *part)).fetchall())
        return found

    def latest_run(self) -> str | None:
        """The most recently created run that still has batches not collected, else the most recent one."""
        conn = self.ledger.connection
        row = conn.execute("SELECT run FROM batch_jobs WHERE status != ? ORDER BY created DESC LIMIT 1",
                           (COLLECTED,)).fetchone()
        row = row or conn.execute("SELECT run FROM batch_runs ORDER BY created DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def add_pending(self, run: str, round_: int, profile: str, base_host: str, custom_ids: Sequence[str]) -> str:
        """A batch about to be created, with its rows, in one transaction; returns its placeholder id."""
        placeholder = PLACEHOLDER + uuid.uuid4().hex
        self._write([
            ("INSERT INTO batch_jobs (batch_id, run, round, profile, base_host, created, status) "
             "VALUES (?, ?, ?, ?, ?, ?, ?)", (placeholder, run, round_, profile, base_host, now_micros(), SUBMITTING),
             False),
            ("INSERT INTO batch_rows (run, custom_id, batch_id, status) VALUES (?, ?, ?, 'submitted')",
             [(run, cid, placeholder) for cid in custom_ids], True),
        ])
        return placeholder

    def created(self, placeholder: str, batch_id: str, status: str, counts: dict[str, int]) -> None:
        """The provider's id of a batch recorded as ``placeholder``, for the job and its rows at once."""
        self._write([
            ("UPDATE batch_jobs SET batch_id = ?, status = ?, counts = ? WHERE batch_id = ?",
             (batch_id, status, json.dumps(counts), placeholder), False),
            ("UPDATE batch_rows SET batch_id = ? WHERE batch_id = ?", (batch_id, placeholder), False),
        ])

    def drop_pending(self, placeholder: str) -> None:
        """Forget a record whose create was refused (the provider made no batch)."""
        self._write([("DELETE FROM batch_rows WHERE batch_id = ?", (placeholder,), False),
                     ("DELETE FROM batch_jobs WHERE batch_id = ?", (placeholder,), False)])

    def job_rows(self, batch_id: str) -> list[str]:
        """The custom ids a batch (or a placeholder) holds, in the order they were recorded."""
        cur = self.ledger.connection.execute(
            "SELECT custom_id FROM batch_rows WHERE batch_id = ? ORDER BY rowid", (batch_id,))
        return [r[0] for r in cur]

    def batch_ids(self) -> set[str]:
        """Every batch id the ledger knows, of any run."""
        return {r[0] for r in self.ledger.connection.execute("SELECT batch_id FROM batch_jobs")}

    def jobs(self, run: str) -> list[Job]:
        """The run's batches, oldest first."""
        cur = self.ledger.connection.execute(
            "SELECT batch_id, run, round, status, counts, created FROM batch_jobs WHERE run = ? "
            "ORDER BY created, rowid", (run,))
        return [Job(b, r, n, s, json.loads(c) if c else {}, t) for b, r, n, s, c, t in cur]

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
