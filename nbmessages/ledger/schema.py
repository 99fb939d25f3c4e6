"""The calls table: its columns, the numbered migrations that build it, and what a reader of it needs.

Both the ledger (which writes and merges rows) and its DataFrame views (which read them) import this module;
neither imports the other's internals.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Protocol, TypeVar

T = TypeVar("T")
MAX_PARAMETERS = 900  # bound parameters per statement: SQLite's default limit is 999

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 30_000

COLUMNS: tuple[str, ...] = (
    "id", "ts", "message_id", "request_id", "generation_id", "profile", "base_host", "model_requested",
    "model", "provider", "session_id", "chat", "streamed", "outcome", "status_code", "error_message",
    "stop_reason", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_5m_tokens",
    "cache_1h_tokens", "cache_read_tokens", "thinking_tokens", "web_search_requests", "web_fetch_requests",
    "service_tier", "ttft", "duration", "output_tps", "retries", "cost_usd", "cost_source", "tags", "content",
    "output_counted", "simulated", "response_cache", "routing", "availability",
)

_V1 = """
CREATE TABLE calls (
    id TEXT PRIMARY KEY NOT NULL,        -- uuid4 hex: merges of exported ledgers dedupe on it
    ts INTEGER NOT NULL,                 -- call start, microseconds since the Unix epoch, UTC
    message_id TEXT, request_id TEXT, generation_id TEXT,
    profile TEXT, base_host TEXT, model_requested TEXT, model TEXT, provider TEXT,
    session_id TEXT, chat TEXT, streamed INTEGER,
    outcome TEXT NOT NULL, status_code INTEGER, error_message TEXT, stop_reason TEXT,
    input_tokens INTEGER, output_tokens INTEGER, cache_creation_tokens INTEGER,
    cache_5m_tokens INTEGER, cache_1h_tokens INTEGER, cache_read_tokens INTEGER, thinking_tokens INTEGER,
    web_search_requests INTEGER, web_fetch_requests INTEGER, service_tier TEXT,
    ttft REAL, duration REAL, output_tps REAL, retries INTEGER,
    cost_usd REAL, cost_source TEXT, tags TEXT, content TEXT
);
CREATE INDEX calls_ts ON calls (ts);
"""

_V2 = """
CREATE TABLE frame_cache (           -- columnar (Parquet) snapshots of old calls (dropped again by V3)
    max_rowid INTEGER PRIMARY KEY, min_rowid INTEGER NOT NULL, version INTEGER NOT NULL,
    n_rows INTEGER NOT NULL, last_id TEXT NOT NULL, data BLOB NOT NULL
);
"""

_V3 = """
-- usage() now reads the calls column-wise through ADBC, fast enough without snapshots: drop them
DROP TABLE IF EXISTS frame_cache;
"""

_V4 = """
-- output_counted: 1 when the output tokens are the client's count (a partial stream: no final usage came);
-- simulated: 1 when the offline model answered (its cost is what the call would cost, not spending)
ALTER TABLE calls ADD COLUMN output_counted INTEGER;
ALTER TABLE calls ADD COLUMN simulated INTEGER;
"""

_V5 = """
-- OpenRouter: the response cache's verdict (HIT | MISS), the router metadata's headline, an availability code
ALTER TABLE calls ADD COLUMN response_cache TEXT;
ALTER TABLE calls ADD COLUMN routing TEXT;
ALTER TABLE calls ADD COLUMN availability TEXT;
"""

_V6 = """
CREATE TABLE map_results (           -- finished answers of nbmessages.map by request: resume and dedupe
    request_hash TEXT PRIMARY KEY NOT NULL,  -- sha256 of the backend and the canonical request body
    map_id TEXT NOT NULL,                -- the map that asked (calls carry it as the `map` tag)
    ts INTEGER NOT NULL,                 -- when it was stored, microseconds since the Unix epoch, UTC
    message TEXT NOT NULL,               -- the answer: the final Message as JSON (content: kept to resume)
    cost_usd REAL, duration REAL, extra TEXT  -- what it cost, how long it took, other facts (JSON)
);
CREATE INDEX map_results_map ON map_results (map_id);
"""

_V7 = """
-- Message Batches submitted for a run: written as soon as create returns, so a restarted kernel picks them up
CREATE TABLE batch_runs (
    run TEXT PRIMARY KEY NOT NULL,       -- the run's key (its name, or a hash of its requests)
    created INTEGER NOT NULL,            -- microseconds since the Unix epoch, UTC
    custom_ids TEXT NOT NULL             -- JSON list: the custom_id of each input row, in row order
);
CREATE TABLE batch_jobs (
    batch_id TEXT PRIMARY KEY NOT NULL, run TEXT NOT NULL, round INTEGER NOT NULL,
    profile TEXT, base_host TEXT, created INTEGER NOT NULL,
    status TEXT NOT NULL,                -- processing_status last seen, then 'collected' once results are in
    counts TEXT                          -- request_counts last seen (JSON)
);
CREATE INDEX batch_jobs_run ON batch_jobs (run);
CREATE TABLE batch_rows (
    run TEXT NOT NULL, custom_id TEXT NOT NULL, batch_id TEXT NOT NULL,
    status TEXT NOT NULL,                -- submitted | succeeded | errored | canceled | expired
    error_type TEXT, error TEXT,
    PRIMARY KEY (run, custom_id, batch_id)
);
"""

_V8 = """
-- batch_jobs rows may now be written before create is sent (status 'submitting', a placeholder batch_id):
-- a kernel that dies during create leaves a record that the next poll reconciles with the provider's list
CREATE TABLE batch_bodies (           -- each batched row's request body: resume() resubmits without the frame
    run TEXT NOT NULL, custom_id TEXT NOT NULL,
    body TEXT NOT NULL,                  -- the body as sent (compact JSON), whose hash the custom_id may be
    PRIMARY KEY (run, custom_id)
);
CREATE TABLE map_claims (             -- nbmessages.map over Dask: which partition sends each distinct request
    run TEXT NOT NULL,                   -- one map call
    request_hash TEXT NOT NULL,          -- as in map_results
    owner TEXT NOT NULL,                 -- the partition that sends it
    state TEXT NOT NULL,                 -- claimed | done (answer in map_results) | error
    ts INTEGER NOT NULL,                 -- the owner's last sign of life, microseconds since the epoch, UTC
    error_type TEXT, error TEXT,
    PRIMARY KEY (run, request_hash)
);
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8]
"""Schema steps: MIGRATIONS[i] takes a ledger from user_version i to i + 1 (statements end with ";\\n"). Only append."""


class CallsTable(Protocol):
    """Where the calls are: an open connection, and the file path (``MEMORY`` for an in-memory ledger)."""

    @property
    def path(self) -> str: ...

    @property
    def connection(self) -> sqlite3.Connection: ...

    @property
    def read_uri(self) -> str | None: ...  # how readers open the file when it may not be written


def parameter_chunks(items: Sequence[T]) -> Iterator[list[T]]:
    """``items`` in runs small enough to bind in one statement (``... IN (?, ?, …)``)."""
    for start in range(0, len(items), MAX_PARAMETERS):
        yield list(items[start:start + MAX_PARAMETERS])


def now_micros() -> int:
    """Now, in microseconds since the epoch (the ledger's timestamps)."""
    return to_micros(datetime.now(timezone.utc))


def to_micros(when: datetime) -> int:
    """Microseconds since the epoch of a datetime (naive means UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
