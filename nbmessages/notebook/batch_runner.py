"""Batch mode: many requests as Message Batches, each recorded in the ledger database before its create is sent.

A run's key is its name, or a hash of its requests, so the same call after a kernel restart finds the batches it
already submitted instead of paying for them twice. Each row's ``custom_id`` is derived from its request's hash
(identical requests are sent once); results are matched back by it, whatever order they come in.

A batch is recorded (``submitting``) before create is sent and given its id when create answers. A record left
``submitting`` (the kernel died, or the connection dropped, while create was under way) is reconciled with the
provider's list of batches: the one batch created since the record with as many requests is adopted; if there
is none the rows are submitted again, from the request bodies the ledger keeps.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from ..client.errors import APIConnectionError, APIError
from ..client.observers import CallRecord
from ..client.retries import retry_delay, should_retry
from ..client.sync import Client
from ..ledger import prices
from ..ledger.batch_jobs import COLLECTED, SUBMITTING, BatchJobs, Job
from ..ledger.store import Ledger, LedgerObserver, get_ledger, row_of, to_micros
from ..request.batches import prepare_batch
from ..request.builder import Request
from ..types import Message, RequestValidationError
from ..types.batches import MAX_BATCH_BYTES, MAX_BATCH_REQUESTS, MessageBatch

_COUNTED = ("processing", "succeeded", "errored", "canceled", "expired")
RETRYABLE = ("api_error", "overloaded_error", "rate_limit_error", "timeout_error")
"""Errored results worth resubmitting; an invalid_request_error would fail again."""
BYTES_MARGIN = 1024 * 1024  # room for the envelope around the requests
ROWS_PER_WRITE = 1000
CLOCK_SKEW = 120 * 1_000_000  # µs: the provider's clock may run this far behind ours
CREATE_WINDOW = 15 * 60 * 1_000_000  # µs: a create sent this long after its record is not waited for


@dataclass
class RowResult:
    """What became of one input row."""

    custom_id: str
    status: str  # succeeded | errored | canceled | expired | submitted (not ended yet)
    message: Message | None = None
    error_type: str | None = None
    error: str | None = None
    batch_id: str | None = None
    cost_usd: float | None = None
    cost_source: str | None = None


def custom_id_for(profile: str, host: str, body: Mapping[str, Any]) -> str:
    """The custom_id of a request: ``r`` and 40 base32 characters of the hash of where it goes and what it says."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(f"{profile}\n{host}\n{canonical}".encode()).digest()
    return "r" + base64.b32encode(digest).decode()[:40]


def body_text(body: Mapping[str, Any]) -> str:
    """A request body as the ledger keeps it: compact JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def request_of_body(body: Mapping[str, Any]) -> Request:
    """The Request whose body for its backend is ``body`` (fields Request does not know go in ``extra_body``)."""
    fields = Request.model_fields
    known = {k: v for k, v in body.items() if k in fields and k != "extra_body"}
    extra = {k: v for k, v in body.items() if k not in known}
    return Request(**known, extra_body=extra or None)


def _ambiguous(error: APIError) -> bool:
    """Whether a failed create may still have made the batch (the request may have reached the provider)."""
    return isinstance(error, APIConnectionError) or (error.status_code or 0) >= 500 or error.status_code == 408


def chunked(custom_ids: Sequence[str], sizes: Sequence[int], max_requests: int = MAX_BATCH_REQUESTS,
            max_bytes: int = MAX_BATCH_BYTES - BYTES_MARGIN) -> list[list[str]]:
    """Split requests into batches of at most ``max_requests`` and about ``max_bytes`` of JSON each."""
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for cid, n in zip(custom_ids, sizes, strict=True):
        if current and (len(current) >= max_requests or size + n > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(cid)
        size += n
    if current:
        batches.append(current)
    return batches


def _host(client: Client) -> str:
    return urlsplit(client.base_url).hostname or ""


def _ledger_of(client: Client, ledger: Ledger | str | None) -> Ledger:
    if isinstance(ledger, Ledger):
        return ledger
    if ledger is not None:
        return get_ledger(ledger)
    found = next((o.ledger for o in client.observers if isinstance(o, LedgerObserver)), None)
    return found if found is not None else get_ledger()  # not `or`: an empty Ledger is falsy (len 0)


class BatchRun:
    """A run of requests in batch mode: ``wait()`` for its results; it survives a kernel restart (``resume``)."""

    def __init__(self, client: Client, jobs: BatchJobs, run: str, row_ids: list[str],
                 requests: dict[str, Request] | None = None, max_requests: int = MAX_BATCH_REQUESTS,
                 max_bytes: int = MAX_BATCH_BYTES - BYTES_MARGIN) -> None:
        self.client, self.jobs, self.run, self.row_ids = client, jobs, run, row_ids
        self.requests: dict[str, Request] = dict(requests or {})  # the rest are read from the ledger when needed
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.batches: dict[str, MessageBatch] = {}
        self._messages: dict[str, Message] = {}
        self._host = _host(client)
        self._provider = prices.provider_id(client.profile.name, self._host)
        self.sizes: dict[str, int] = {}  # each request's body size, for splitting by the byte limit
        self._costs: dict[str, prices.Cost] = {}
        self._calls: dict[LedgerObserver, list[tuple[Any, ...]]] = {}  # ledger rows written with the outcomes

    def __repr__(self) -> str:
        return f"<BatchRun {self.run!r}: {self.status_line()}>"

    # -- submitting

    def submit(self, custom_ids: Iterable[str] | None = None, round_: int = 0) -> list[str]:
        """Create batches for the rows not yet submitted (or the ``custom_ids`` given); returns the batch ids."""
        known = self.jobs.rows(self.run)  # a first round never sends a row twice; a resubmission does on purpose
        wanted = [c for c in dict.fromkeys(custom_ids if custom_ids is not None else self.row_ids)
                  if round_ > 0 or c not in known]
        self._load(wanted)
        sizes = [self._size(c) for c in wanted]
        profile = self.client.profile
        made = []
        for chunk in chunked(wanted, sizes, self.max_requests, self.max_bytes):
            # recorded before create is sent: a crash from here on is reconciled by the next poll, never lost
            placeholder = self.jobs.add_pending(self.run, round_, profile.name, self._host, chunk)
            batch = self._create(placeholder, chunk)
            if batch is not None:
                made.append(batch.id)
        return made

    def _load(self, custom_ids: Sequence[str]) -> None:
        """The requests of these rows, from the request bodies the ledger keeps when this run was resumed."""
        missing = [c for c in custom_ids if c not in self.requests]
        for cid, text in self.jobs.bodies(self.run, missing).items():
            self.requests[cid] = request_of_body(json.loads(text))
            self.sizes[cid] = len(text.encode())
        lost = [c for c in missing if c not in self.requests]
        if lost:
            raise ValueError(f"{len(lost)} rows of run {self.run!r} have no request body in the ledger (the run "
                             "was started before nbmessages kept them); pass the requests again (the same call) "
                             "to submit or resubmit them")

    def _create(self, placeholder: str, chunk: list[str]) -> MessageBatch | None:
        """Send one create, without the client's own retries (a retry after a dropped connection could make a
        second batch): a refusal forgets the record; an answer that may hide a batch looks for it first."""
        items = [{"custom_id": c, "params": self.requests[c]} for c in chunk]
        once = self.client.copy(max_retries=0)
        try:
            for attempt in range(self.client.max_retries + 1):
                try:
                    batch = once.messages.batches.create(items)
                except RequestValidationError:
                    self.jobs.drop_pending(placeholder)
                    raise
                except APIError as error:
                    if _ambiguous(error) and (found := self._landed(placeholder, len(chunk))) is not None:
                        batch = found
                    elif attempt < self.client.max_retries and should_retry(error):
                        time.sleep(retry_delay(attempt, error.headers))
                        continue
                    elif _ambiguous(error):
                        raise  # the record stays: the next poll looks for the batch again, or resubmits
                    else:
                        self.jobs.drop_pending(placeholder)
                        raise
                self.jobs.created(placeholder, batch.id, batch.processing_status, batch.request_counts.to_dict())
                self.batches[batch.id] = batch
                return batch
        finally:
            once.close()
        return None

    def _landed(self, placeholder: str, size: int, since: int | None = None) -> MessageBatch | None:
        """The batch a create recorded as ``placeholder`` made, if the provider lists exactly one that fits:
        created from the record's time on, holding ``size`` requests, and known to no run of this ledger."""
        if since is None:
            since = next((j.created for j in self.jobs.jobs(self.run) if j.batch_id == placeholder), 0)
        taken = self.jobs.batch_ids()
        fits = []
        for batch in self.client.messages.batches.list(limit=100):  # newest first
            created = to_micros(batch.created_at)
            if created < since - CLOCK_SKEW:
                break
            counts = batch.request_counts.to_dict()
            if (batch.id not in taken and created <= since + CREATE_WINDOW
                    and sum(int(counts.get(k, 0)) for k in _COUNTED) == size):
                fits.append(batch)
        return fits[0] if len(fits) == 1 else None

    def _reconcile(self, job: Job) -> None:
        """A batch left ``submitting``: adopt the batch its create made, or submit its rows again."""
        chunk = self.jobs.job_rows(job.batch_id)
        found = self._landed(job.batch_id, len(chunk), job.created)
        if found is not None:
            self.jobs.created(job.batch_id, found.id, found.processing_status, found.request_counts.to_dict())
            self.batches[found.id] = found
            return
        self._load(chunk)
        self._create(job.batch_id, chunk)

    def _size(self, cid: str) -> int:
        """About how many bytes a request takes in a create body."""
        if cid not in self.sizes:
            request = self.requests[cid]
            self.sizes[cid] = len(json.dumps(self.client.profile.body(request, request.extra_body)))
        return self.sizes[cid] + 64

    def failed(self) -> list[str]:
        """Rows worth resubmitting: expired, or errored with a transient error."""
        return [c for c, (_, status, kind, _) in self.jobs.rows(self.run).items()
                if status == "expired" or (status == "errored" and kind in RETRYABLE)]

    def retry_failed(self) -> list[str]:
        """Resubmit the failed rows as a new round of batches; returns the new batch ids."""
        rows = self.failed()
        if not rows:
            return []
        next_round = max((j.round for j in self.jobs.jobs(self.run)), default=0) + 1
        return self.submit(rows, next_round)

    def cancel(self) -> None:
        """Cancel every batch of the run still processing."""
        for job in self.jobs.jobs(self.run):
            if job.status == "in_progress":
                batch = self.client.messages.batches.cancel(job.batch_id)
                self.jobs.set_status(job.batch_id, batch.processing_status, batch.request_counts.to_dict())

    # -- polling and collecting

    def poll(self) -> bool:
        """Look at every batch once, collecting the results of those that ended; True once all are collected."""
        done = True
        for job in self.jobs.jobs(self.run):
            if job.status == COLLECTED:
                continue
            if job.status == SUBMITTING:  # its create never answered: adopt what it made, or submit again
                self._reconcile(job)
                done = False
                continue
            batch = self.client.messages.batches.retrieve(job.batch_id)
            self.batches[batch.id] = batch
            self.jobs.set_status(batch.id, batch.processing_status, batch.request_counts.to_dict())
            if batch.ended:
                self._collect(batch)
            else:
                done = False
        return done

    def _collect(self, batch: MessageBatch) -> None:
        """Read an ended batch's results once: each row's outcome stored, each answer recorded as a call."""
        pending: list[tuple[str, str, str | None, str | None]] = []
        seen = set()
        with self.client.messages.batches.results(batch.id) as results:
            for line in results:
                outcome = self._outcome(batch.id, line.custom_id, line.result)
                pending.append(outcome)
                seen.add(line.custom_id)
                if len(pending) >= ROWS_PER_WRITE:
                    self._write(batch.id, pending)
                    pending = []
        # rows with no result line (OpenRouter returns none for an expired or cancelled batch)
        c = batch.request_counts
        missing = "expired" if c.expired else "canceled" if c.canceled else "errored"
        pending += [(cid, missing, None if missing != "errored" else "api_error",
                     None if missing != "errored" else "the batch returned no result for this request")
                    for cid, (bid, status, _, _) in self.jobs.rows(self.run).items()
                    if bid == batch.id and status == "submitted" and cid not in seen]
        self._write(batch.id, pending)
        self.jobs.set_status(batch.id, COLLECTED, batch.request_counts.to_dict())

    def _write(self, batch_id: str, outcomes: list[tuple[str, str, str | None, str | None]]) -> None:
        """The rows' outcomes and their calls' ledger rows, a chunk at a time (one transaction each)."""
        for observer, rows in self._calls.items():
            observer.ledger.insert_rows(rows)
        self._calls = {}
        self.jobs.set_rows(self.run, batch_id, outcomes)

    def _outcome(self, batch_id: str, cid: str, result: Any) -> tuple[str, str, str | None, str | None]:
        kind = result.type
        if kind == "succeeded":
            self._messages[cid] = message = result.message
            self._costs[cid] = prices.cost_of(message.usage, message.model, self._provider)
            self._record(batch_id, cid, "ok", result.message, None)
            return cid, kind, None, None
        if kind == "errored":
            error = result.error.error
            self._record(batch_id, cid, error.type, None, error.message)
            return cid, kind, error.type, error.message
        return cid, kind, None, None

    def _record(self, batch_id: str, cid: str, outcome: str, message: Message | None, error: str | None) -> None:
        request = self.requests.get(cid)
        record = CallRecord(
            started_at=datetime.now(timezone.utc), profile=self.client.profile.name, base_host=self._host,
            model_requested=(request.model if request else None) or (message.model if message else ""),
            streamed=False, outcome=outcome, message=message,
            tags={**self.client.tags, "batch_id": batch_id, "custom_id": cid, "run": self.run},
            error_message=error,
        )
        for observer in self.client.observers:
            if isinstance(observer, LedgerObserver):  # written in chunks: one transaction per thousand answers
                self._calls.setdefault(observer, []).append(row_of(record, observer.tags, observer.log_content))
            else:
                observer.record(record)

    def wait(self, *, retry_failed: bool = False, max_rounds: int = 2, poll_interval: float = 1.0,
             max_interval: float = 60.0, timeout: float | None = None,
             progress: Callable[[BatchRun], None] | None = None) -> list[RowResult]:
        """Poll with backoff until every batch ended and its results are in; an interrupt cancels the batches."""
        interval, rounds = poll_interval, 0
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                done = self.poll()
                if progress is not None:
                    progress(self)
                if done and retry_failed and rounds < max_rounds and self.failed():
                    self.retry_failed()
                    rounds, interval, done = rounds + 1, poll_interval, False
                if done:
                    return self.results()
                if deadline is not None and time.monotonic() + interval > deadline:
                    raise TimeoutError(f"batch run {self.run!r} not done after {timeout} s: {self.status_line()}")
                time.sleep(interval)
                interval = min(interval * 1.5, max_interval)
        except KeyboardInterrupt:
            self.cancel()
            raise

    # -- what came of it

    def results(self) -> list[RowResult]:
        """One result per input row, in row order (messages read again from the provider if this is a new process)."""
        rows = self.jobs.rows(self.run)
        lost = {rows[c][0] for c in self.row_ids if c in rows and rows[c][1] == "succeeded" and c not in self._messages}
        for lost_id in lost:
            with self.client.messages.batches.results(lost_id) as results:
                for line in results:
                    if line.message is not None and rows.get(line.custom_id, ("",))[0] == lost_id:
                        self._messages[line.custom_id] = line.message
        provider = prices.provider_id(self.client.profile.name, self._host)
        out = []
        for cid in self.row_ids:
            batch_id, status, kind, error = rows.get(cid, ("", "not_submitted", None, None))
            message = self._messages.get(cid)
            cost = self._costs.get(cid) or (prices.cost_of(message.usage, message.model, provider)
                                            if message is not None else None)
            out.append(RowResult(cid, status, message, kind, error, batch_id or None,
                                 cost.usd if cost else None, cost.source if cost else None))
        return out

    def counts(self) -> dict[str, int]:
        """How many rows are in each state."""
        tally: dict[str, int] = {}
        rows = self.jobs.rows(self.run)
        for cid in self.row_ids:
            status = rows.get(cid, ("", "not_submitted"))[1]
            tally[status] = tally.get(status, 0) + 1
        return tally

    def status_line(self) -> str:
        """The batches' states and the rows' counts in one line (what progress shows)."""
        jobs = self.jobs.jobs(self.run)
        states: dict[str, int] = {}
        for job in jobs:
            states[job.status] = states.get(job.status, 0) + 1
        live = {k: 0 for k in ("processing", "succeeded", "errored", "canceled", "expired")}
        for job in jobs:
            for key in live:
                live[key] += int(job.counts.get(key, 0))
        batches = ", ".join(f"{n} {s}" for s, n in states.items()) or "none submitted"
        rows = " · ".join(f"{n} {k}" for k, n in live.items() if n)
        return f"{len(self.row_ids)} rows in {len(jobs)} batches ({batches}){': ' + rows if rows else ''}"


def start(requests: Sequence[Request | Mapping[str, Any]], *, client: Client | None = None,
          ledger: Ledger | str | None = None, run: str | None = None, max_requests: int = MAX_BATCH_REQUESTS,
          max_bytes: int = MAX_BATCH_BYTES - BYTES_MARGIN, submit: bool = True,
          custom_ids: Sequence[str] | None = None) -> BatchRun:
    """Validate the requests, then submit them as batches, or pick up the batches this run already submitted.

    ``custom_ids`` (one per request, unique) replaces the ids derived from the requests' hashes.
    """
    client = client or Client()
    prepared = prepare_batch([{"custom_id": f"row-{i}", "params": r} for i, r in enumerate(requests)],
                             client.profile, client.anthropic_version)
    host = _host(client)
    row_ids = list(custom_ids) if custom_ids is not None else [
        custom_id_for(client.profile.name, host, body) for body in prepared.bodies]
    if len(row_ids) != len(prepared.bodies):
        raise ValueError(f"custom_ids: {len(row_ids)} ids for {len(prepared.bodies)} requests")
    by_id = dict(zip(row_ids, prepared.requests, strict=True))
    texts = {cid: body_text(body) for cid, body in zip(row_ids, prepared.bodies, strict=True)}
    jobs = BatchJobs(_ledger_of(client, ledger))
    key = run or "run-" + hashlib.sha256("\n".join(row_ids).encode()).hexdigest()[:24]
    stored = jobs.run_ids(key)
    if stored is None:
        jobs.add_run(key, row_ids, texts)
    elif stored != row_ids:
        raise ValueError(f"run {key!r} was started with other requests; give this one another run name")
    else:
        jobs.add_bodies(key, texts)
    batch_run = BatchRun(client, jobs, key, row_ids, by_id, max_requests, max_bytes)
    batch_run.sizes = {cid: len(text.encode()) for cid, text in texts.items()}
    if submit:
        batch_run.submit()
    return batch_run


def resume(run: str | None = None, *, client: Client | None = None, ledger: Ledger | str | None = None,
           retry_failed: bool = False) -> BatchRun:
    """The batch run ``run`` (default: the latest one not yet collected) as it stands in the ledger database.

    Rows never submitted (the kernel died between batches) are submitted now, from the request bodies the ledger
    keeps; ``retry_failed=True`` also resubmits the rows already known to have failed (``wait(retry_failed=True)``
    does so for the rest as they end).
    """
    client = client or Client()
    jobs = BatchJobs(_ledger_of(client, ledger))
    key = run or jobs.latest_run()
    row_ids = jobs.run_ids(key) if key else None
    if key is None or row_ids is None:
        raise LookupError(f"no batch run {run!r} in the ledger {jobs.ledger.path!r}" if run else
                          f"no batch run in the ledger {jobs.ledger.path!r}")
    batch_run = BatchRun(client, jobs, key, row_ids)
    known = jobs.rows(key)
    unsent = list(dict.fromkeys(c for c in row_ids if c not in known))
    if unsent and len(jobs.bodies(key, unsent)) == len(unsent):  # a run from before bodies were kept: as it is
        batch_run.submit(unsent)
    if retry_failed:
        batch_run.retry_failed()
    return batch_run
