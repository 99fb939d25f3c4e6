"""The map as a plain pandas → pandas function: for Dask (``map_partitions``), Ray and Spark.

``PartitionMap`` is picklable and builds its own client in each worker process. Its rate limit is global
when a Dask cluster runs it: a ``distributed.Semaphore`` of ``leases`` leases (a second's worth by default),
each given back ``leases * 60 / rpm`` seconds after it was taken (by a releaser thread: the sending thread goes
on at once), lets no more than ``rpm`` requests a minute start across all workers. Every worker records into
the user's ledger file (SQLite in WAL mode takes several processes at once).

Identical requests are sent once per map call, across partitions too: each partition claims its requests'
hashes in the ledger (``claims.py``) and takes the answers of the others from ``map_results``. Without a
ledger file each partition dedupes only its own rows. Answers stored by an earlier map (real time or Dask) of
the same requests to the same backend are not asked again (``cache=False`` asks again): a Dask map resumes.

Ray: ``ds.map_batches(fn, batch_format="pandas")``; Spark: ``sdf.mapInPandas(lambda it: map(fn, it), schema)``.
Outside Dask (no semaphore) the limit is per process: give each process its share (``rpm / processes``).
"""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ...client.errors import APIError
from ...client.sync import Client
from ...ledger import prices
from ...request.builder import Request
from ...types import RequestValidationError
from .claims import Claims, Settled
from .engine import parse_answer, stored_outcome
from .frame import Outcome, Rows, build, request_options, to_frame
from .plan import sent_body
from .store import ResultStore, ledger_of, request_hash

if TYPE_CHECKING:
    import pandas as pd

_clients: dict[tuple[Any, ...], Client] = {}
CARRIED = ("anthropic_version", "default_headers", "timeout", "deadline", "tags", "log_content", "app_url",
           "app_title", "app_categories", "openrouter_cache", "openrouter_metadata")
"""The user's client options each worker's client is made with too (the picklable ones)."""
_semaphores: dict[str, Any] = {}  # one distributed.Semaphore per name per process: registered once
_shared_lock = threading.Lock()


class _Pacer:
    """A per-process stand-in for the semaphore: at most ``leases`` calls started per ``hold`` seconds."""

    def __init__(self, leases: int) -> None:
        self._slots = threading.BoundedSemaphore(leases)

    def acquire(self) -> None:
        self._slots.acquire()

    def release(self) -> None:
        self._slots.release()


_pacers: dict[str, _Pacer] = {}


class _Releaser:
    """Gives leases back when they are due, on one thread per process, so no sender sleeps holding one."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Any]] = []
        self._wake = threading.Condition()
        self._count = 0
        self._thread: threading.Thread | None = None

    def later(self, slots: Any, due: float) -> None:
        """Release one lease of ``slots`` at ``due`` (time.monotonic)."""
        with self._wake:
            self._count += 1
            heapq.heappush(self._due, (due, self._count, slots))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="nbmessages-leases", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, slots = heapq.heappop(self._due)
            slots.release()


_releaser = _Releaser()


@dataclass
class PartitionMap:
    """One prompt over a pandas partition's rows, returning the map's result columns (picklable)."""

    prompt: str | None
    options: dict[str, Any]
    base_url: str
    profile: str
    api_key: SecretStr | None = field(default=None, repr=False)
    ledger: str | None = None
    rpm: float | None = None
    leases: int = 2
    semaphore: str | None = None  # the name of a distributed.Semaphore shared by the cluster's workers
    concurrency: int = 4
    max_retries: int = 4
    run: str = field(default_factory=lambda: f"dask-{uuid.uuid4().hex[:12]}")  # partitions share its claims
    cache: bool = True  # take answers stored by earlier maps instead of asking again
    on_error: str = "return"  # "raise": the first failed request fails its partition (and the compute)
    client_options: dict[str, Any] = field(default_factory=dict, repr=False)  # headers may hold secrets

    def meta(self, like: pd.DataFrame) -> pd.DataFrame:
        """The empty result frame Dask is given as ``meta`` (so it never calls the model to guess it)."""
        _, schema = request_options(dict(self.options))
        return to_frame(Rows(like.index[:0], []), [], schema)

    def __call__(self, partition: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
        params, schema = request_options(dict(self.options))
        rows = build(partition, self.prompt, params)
        client = self.client()
        keys = [request_hash(self.profile, client.base_url, sent_body(client, r)) if isinstance(r, Request)
                else None for r in rows.requests]
        unique = {k: r for k, r in zip(keys, rows.requests, strict=True) if k is not None}
        # a partition Dask runs again (its worker died) has the same number: it owns its claims again
        owner = f"p{partition_info['number']}" if partition_info else uuid.uuid4().hex
        answers = self._answers(client, unique, owner, schema)
        return to_frame(rows, _per_row(rows, keys, answers), schema)

    def _answers(self, client: Client, unique: dict[str, Any], owner: str, schema: Any) -> dict[str, Outcome]:
        """Each distinct request's outcome: sent here if this partition won its claim, else another's answer."""
        ledger = ledger_of(client)
        store = ResultStore(ledger)
        answers: dict[str, Outcome] = {}
        if self.cache:
            stored = store.find(list(unique))
            answers.update({k: stored_outcome(got, schema) for k, got in stored.items()})
            unique = {k: r for k, r in unique.items() if k not in stored}
        claims = Claims(ledger, self.run) if unique and ledger is not None and ledger.path != ":memory:" else None
        send = claims.claim(owner, list(unique)) if claims is not None else list(unique)
        won = set(send)
        waiting = [k for k in unique if k not in won]
        while send or waiting:
            answers.update(self._send(client, {k: unique[k] for k in send}, schema, store, claims, owner))
            send = []
            if waiting and claims is not None:
                settled, send = claims.wait(owner, waiting)
                answers.update(_from_others(settled, store, schema))
                waiting = [k for k in waiting if k not in settled and k not in send]
        return answers

    def _send(self, client: Client, requests: dict[str, Request], schema: Any, store: ResultStore,
              claims: Claims | None, owner: str) -> dict[str, Outcome]:
        """Send these requests; each answer is stored and its claim settled as it comes (in this thread)."""
        if not requests:
            return {}
        slots = self._slots()
        out: dict[str, Outcome] = {}
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(requests)))) as pool, \
                (claims.beating(owner) if claims is not None else nullcontext()):
            futures = {pool.submit(self.one, client, slots, r, schema): k for k, r in requests.items()}
            for future in as_completed(futures):
                key = futures[future]
                outcome = out[key] = future.result()
                if outcome.message is not None and outcome.status == "ok":
                    store.put(key, self.run, outcome.message, outcome.cost_usd, outcome.duration or 0.0)
                    store.flush()  # before the claim is settled: whoever waits for it finds the answer
                if claims is not None:
                    failed = outcome.status != "ok"
                    claims.settle(key, (outcome.error_type or "error") if failed else None,
                                  outcome.error_message if failed else None)
        return out

    def client(self) -> Client:
        """This process's client for the map (built once per process and shared by its partitions)."""
        key = (self.base_url, self.profile, self.ledger, self.max_retries, repr(sorted(self.client_options.items())))
        with _shared_lock:
            if key not in _clients:
                key_text = self.api_key.get_secret_value() if self.api_key is not None else None
                _clients[key] = Client(key_text, self.base_url, profile=self.profile,
                                       ledger=self.ledger if self.ledger is not None else False,
                                       max_retries=self.max_retries, **self.client_options)
            return _clients[key]

    def _slots(self) -> Any:
        if self.rpm is None:
            return None
        if self.semaphore is not None:
            with _shared_lock:
                if self.semaphore not in _semaphores:
                    from distributed import Semaphore

                    _semaphores[self.semaphore] = Semaphore(max_leases=self.leases, name=self.semaphore)
                return _semaphores[self.semaphore]
        return _pacers.setdefault(f"{self.leases}", _Pacer(self.leases))

    def warm(self) -> None:
        """Import, build the client and join the semaphore now (a worker does this before its first partition)."""
        self.client()
        self._slots()

    def one(self, client: Client, slots: Any, request: Request, schema: Any) -> Outcome:
        """Send one request under the rate limit's ``slots``; the lease is given back later, by the releaser."""
        hold = self.leases * 60.0 / self.rpm if self.rpm else 0.0
        if slots is not None:
            slots.acquire()
        started = time.monotonic()
        try:
            message = client.messages.create(request, tags={"map": self.run})
        except (APIError, RequestValidationError) as exc:
            if self.on_error == "raise":
                raise
            return Outcome("error", error_type=getattr(exc, "error_type", None) or type(exc).__name__,
                           error_message=str(exc), duration=time.monotonic() - started)
        finally:
            if slots is not None:
                _releaser.later(slots, started + hold)  # a lease stands for 60 / rpm s of the limit
        parsed, problem = parse_answer(message, schema)
        provider = prices.provider_id(self.profile, None)
        cost = prices.cost_of(message.usage, message.model, provider).usd
        return Outcome("ok" if problem is None else "error", message, [message], parsed, cost,
                       time.monotonic() - started, "validation_error" if problem else None, problem)


def _from_others(settled: dict[str, Settled], store: ResultStore, schema: Any) -> dict[str, Outcome]:
    """Outcomes of requests another partition sent: its answers (paid there: cached here), or its errors."""
    found = store.find(k for k, s in settled.items() if s.state == "done")
    out: dict[str, Outcome] = {}
    for key, got in settled.items():
        stored = found.get(key)
        if stored is not None:
            out[key] = stored_outcome(stored, schema)
        else:
            out[key] = Outcome("error", error_type=got.error_type or "api_error",
                               error_message=got.error or "the partition that sent this request stored no answer")
    return out


def _per_row(rows: Rows, keys: Iterable[str | None], answers: dict[str, Outcome]) -> list[Outcome]:
    """Each row's outcome; a request repeated within the partition is answered (and paid) once."""
    out: list[Outcome] = []
    seen: set[str] = set()
    for request, key in zip(rows.requests, keys, strict=True):
        if key is None:
            out.append(Outcome("error", error_type="invalid_request", error_message=str(request)))
            continue
        outcome = answers[key]
        if key in seen and outcome.status == "ok":
            outcome = Outcome("cached", outcome.message, outcome.messages, outcome.parsed, 0.0, 0.0)
        out.append(outcome)
        seen.add(key)
    return out


def one_second(rpm: float | None) -> int:
    """Leases for a second's worth of requests (at least 2): fewer starve the cluster of lease round trips,
    more let a burst through that a smooth per-second limit refuses."""
    return max(2, round(rpm / 60)) if rpm else 2


def partition_function(prompt: str | None, *, client: Any = None, rpm: float | None = None,
                       leases: int | None = None, concurrency: int = 4, ledger: str | None = None,
                       cache: bool = True, on_error: str = "return", name: str | None = None,
                       **options: Any) -> PartitionMap:
    """The picklable pandas → pandas function of ``map(prompt, **options)`` for any engine's workers.

    ``name``: the map's id (its calls' ``map`` tag; default ``dask-`` and a random suffix, one per call)."""
    client = client if client is not None else Client()
    Request(messages="x", **request_options(dict(options))[0])  # bad options fail here, before any worker runs
    if client.budget is not None:
        raise ValueError("budget: the workers of a Dask map cannot be held to this client's budget; preview the "
                         "cost (map(ddf.head(1000), …, dry_run=True)) and map with a client without one")
    carried = {k: v for k, v in client.options.items() if k in CARRIED and v not in (None, {}, False)}
    if ledger is None:
        found = next((o.ledger for o in client.observers if hasattr(o, "ledger")), None)
        ledger = found.path if found is not None and found.path != ":memory:" else None
    fn = PartitionMap(prompt, options, client.base_url, client.profile.name, client.api_key, ledger, rpm,
                      leases or one_second(rpm), None, concurrency, cache=cache, on_error=on_error,
                      client_options=carried)
    if name is not None:
        fn.run = name
    return fn


def _dask_client() -> Any:
    """The distributed client of this process, or None (Dask's local schedulers run here)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def map_dask(ddf: Any, prompt: str | None, *, client: Any = None, limits: dict[str, float] | None = None,
             concurrency: int = 4, leases: int | None = None, **options: Any) -> Any:
    """``nbmessages.map`` over a Dask DataFrame: lazy, through ``map_partitions`` with an explicit meta.

    ``options``: the request settings, and ``cache``, ``on_error``, ``name`` as for a pandas frame."""
    rpm = (limits or {}).get("rpm")
    fn = partition_function(prompt, client=client, rpm=rpm, leases=leases, concurrency=concurrency, **options)
    cluster = _dask_client()
    if cluster is not None:
        if rpm is not None:
            from distributed import Semaphore

            fn.semaphore = f"nbmessages-rpm-{uuid.uuid4().hex[:12]}"
            Semaphore(max_leases=fn.leases, name=fn.semaphore)  # registered now: every worker shares its leases
        _warm_workers(cluster, fn)
    return ddf.map_partitions(fn, meta=fn.meta(ddf._meta))  # noqa: SLF001 - dask's documented empty frame of a collection


def _warm_workers(cluster: Any, fn: PartitionMap) -> None:
    """Each worker imports nbmessages, builds its client and joins the semaphore now, in a task of its own,
    not when the first partition (and the rate limit's first second) is already waiting on it."""
    from distributed import fire_and_forget

    for address in cluster.scheduler_info().get("workers", {}):
        fire_and_forget(cluster.submit(_warm, fn, workers=[address], pure=False, allow_other_workers=False))


def _warm(fn: PartitionMap) -> None:
    fn.warm()
