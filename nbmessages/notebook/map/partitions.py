"""The map as a plain pandas → pandas function: for Dask (``map_partitions``), Ray and Spark.

``PartitionMap`` is picklable and builds its own client in each worker process. Its rate limit is global
when a Dask cluster runs it: a ``distributed.Semaphore`` of ``leases`` leases (a second's worth by default),
each held at least ``leases * 60 / rpm`` seconds, lets no more than ``rpm`` requests a minute start across
all workers. Every
worker records into the user's ledger file (SQLite in WAL mode takes several processes at once).

Ray: ``ds.map_batches(fn, batch_format="pandas")``; Spark: ``sdf.mapInPandas(lambda it: map(fn, it), schema)``.
Outside Dask (no semaphore) the limit is per process: give each process its share (``rpm / processes``).
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ...client.errors import APIError
from ...client.sync import Client
from ...ledger import prices
from ...request.builder import Request
from ...types import RequestValidationError
from .engine import parse_answer
from .frame import Outcome, Rows, build, request_options, to_frame

if TYPE_CHECKING:
    import pandas as pd

_clients: dict[tuple[Any, ...], Client] = {}
_clients_lock = threading.Lock()


class _Pacer:
    """A per-process stand-in for the semaphore: at most ``leases`` calls started per ``hold`` seconds."""

    def __init__(self, leases: int) -> None:
        self._slots = threading.BoundedSemaphore(leases)

    def acquire(self) -> None:
        self._slots.acquire()

    def release(self) -> None:
        self._slots.release()


_pacers: dict[str, _Pacer] = {}


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

    def meta(self, like: pd.DataFrame) -> pd.DataFrame:
        """The empty result frame Dask is given as ``meta`` (so it never calls the model to guess it)."""
        _, schema = request_options(dict(self.options))
        return to_frame(Rows(like.index[:0], []), [], schema)

    def __call__(self, partition: pd.DataFrame) -> pd.DataFrame:
        params, schema = request_options(dict(self.options))
        rows = build(partition, self.prompt, params)
        client = self._client()
        slots = self._slots()
        answers: dict[str, Outcome] = {}
        unique = {r.to_json(None): r for r in rows.requests if isinstance(r, Request)}
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(unique) or 1))) as pool:
            for key, outcome in zip(unique, pool.map(lambda r: self._one(client, slots, r, schema),
                                                     unique.values()), strict=True):
                answers[key] = outcome
        outcomes = [answers[r.to_json(None)] if isinstance(r, Request) else
                    Outcome("error", error_type="invalid_request", error_message=str(r)) for r in rows.requests]
        return to_frame(rows, outcomes, schema)

    def _client(self) -> Client:
        key = (self.base_url, self.profile, self.ledger, self.max_retries)
        with _clients_lock:
            if key not in _clients:
                key_text = self.api_key.get_secret_value() if self.api_key is not None else None
                _clients[key] = Client(key_text, self.base_url, profile=self.profile,
                                       ledger=self.ledger if self.ledger is not None else False,
                                       max_retries=self.max_retries)
            return _clients[key]

    def _slots(self) -> Any:
        if self.rpm is None:
            return None
        if self.semaphore is not None:
            from distributed import Semaphore

            return Semaphore(max_leases=self.leases, name=self.semaphore)
        return _pacers.setdefault(f"{self.leases}", _Pacer(self.leases))

    def _one(self, client: Client, slots: Any, request: Request, schema: Any) -> Outcome:
        hold = self.leases * 60.0 / self.rpm if self.rpm else 0.0
        if slots is not None:
            slots.acquire()
        started = time.monotonic()
        try:
            message = client.messages.create(request, tags={"map": "dask"})
        except (APIError, RequestValidationError) as exc:
            return Outcome("error", error_type=getattr(exc, "error_type", None) or type(exc).__name__,
                           error_message=str(exc), duration=time.monotonic() - started)
        finally:
            if slots is not None:
                time.sleep(max(0.0, hold - (time.monotonic() - started)))  # a lease stands for 60 / rpm s
                slots.release()
        parsed, problem = parse_answer(message, schema)
        provider = prices.provider_id(self.profile, None)
        cost = prices.cost_of(message.usage, message.model, provider).usd
        return Outcome("ok" if problem is None else "error", message, [message], parsed, cost,
                       time.monotonic() - started, "validation_error" if problem else None, problem)


def one_second(rpm: float | None) -> int:
    """Leases for a second's worth of requests (at least 2): fewer starve the cluster of lease round trips,
    more let a burst through that a smooth per-second limit refuses."""
    return max(2, round(rpm / 60)) if rpm else 2


def partition_function(prompt: str | None, *, client: Any = None, rpm: float | None = None,
                       leases: int | None = None,
                       concurrency: int = 4, ledger: str | None = None, **options: Any) -> PartitionMap:
    """The picklable pandas → pandas function of ``map(prompt, **options)`` for any engine's workers."""
    client = client if client is not None else Client()
    Request(messages="x", **request_options(dict(options))[0])  # bad options fail here, before any worker runs
    if ledger is None:
        found = next((o.ledger for o in client.observers if hasattr(o, "ledger")), None)
        ledger = found.path if found is not None and found.path != ":memory:" else None
    return PartitionMap(prompt, options, client.base_url, client.profile.name, client.api_key, ledger, rpm,
                        leases or one_second(rpm), None, concurrency)


def map_dask(ddf: Any, prompt: str | None, *, client: Any = None, limits: dict[str, float] | None = None,
             concurrency: int = 4, leases: int | None = None, **options: Any) -> Any:
    """``nbmessages.map`` over a Dask DataFrame: lazy, through ``map_partitions`` with an explicit meta."""
    rpm = (limits or {}).get("rpm")
    fn = partition_function(prompt, client=client, rpm=rpm, leases=leases, concurrency=concurrency, **options)
    if rpm is not None:
        from distributed import Semaphore

        try:  # registered with the scheduler now, so every worker shares its leases
            name = f"nbmessages-rpm-{uuid.uuid4().hex[:12]}"
            Semaphore(max_leases=fn.leases, name=name)
            fn.semaphore = name
        except ValueError:  # no distributed client: Dask's local schedulers run in this process, paced here
            fn.semaphore = None
    return ddf.map_partitions(fn, meta=fn.meta(ddf._meta))  # noqa: SLF001 - dask's documented empty frame of a collection

