"""``nbmessages.map``: one prompt over every row, run on a private event loop while the caller draws progress.

The engine runs in a worker thread with its own loop (a Jupyter kernel's loop is already running and is
never touched); the calling thread draws the progress line and takes the interrupt: Ctrl-C / the kernel's
interrupt stops sending at once and the partial frame comes back, finished rows kept, the rest skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from urllib.parse import urlsplit

from ...ledger import prices
from ..render.status import price
from . import limits as limits_mod
from .batch_mode import BatchOptions, run_batch
from .clients import client_for, derive, retries_of
from .engine import Engine, Settings, stored_outcome
from .frame import Outcome, Rows, build, request_options, to_frame
from .plan import Plan, make_plan
from .preview import Estimate, estimate
from .progress import ProgressLine, Tally
from .spend import SpendGate
from .store import ResultStore, ledger_of

ON_ERROR = ("return", "raise")
MODES = ("realtime", "batch")


def new_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's with the ``map`` extra (less CPU per request), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _in_thread(make: Callable[[], Coroutine[Any, Any, Any]], tick: Callable[[], None],
               interrupt: Callable[[asyncio.AbstractEventLoop], None]) -> tuple[Any, bool]:
    """Run a coroutine on a new loop in a worker thread; tick while waiting; (result, interrupted)."""
    loop = new_loop()
    box: dict[str, Any] = {}
    finished = threading.Event()  # not Thread.join: an interrupted join can leave is_alive() wrong

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["value"] = loop.run_until_complete(make())
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            box["error"] = exc
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            finished.set()

    thread = threading.Thread(target=target, name="nbmessages-map", daemon=True)
    thread.start()
    interrupted = False
    while not finished.is_set():
        try:
            finished.wait(0.05)
            tick()
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            loop.call_soon_threadsafe(interrupt, loop)
    if "error" in box:
        raise box["error"]
    return box.get("value"), interrupted


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """The objects alive before the map (the notebook's data) left out of the collector's scans meanwhile:
    a full collection walks every tracked object, and a map's answers trigger several (``gc.freeze``).
    Nothing is frozen when something else already froze the heap (its unfreeze is its own)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _latency_seen(ledger: Any, model: str) -> float | None:
    """The mean duration of this model's last successful calls in the ledger (None: none yet)."""
    if ledger is None:
        return None
    row = ledger.connection.execute(
        "SELECT avg(duration) FROM (SELECT duration FROM calls WHERE model_requested = ? AND outcome = 'ok' "
        "ORDER BY rowid DESC LIMIT 100)", (model,)).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def _row_outcomes(rows: Rows, plan: Plan, sent: dict[str, Outcome], schema: Any) -> list[Outcome]:
    """Each row's outcome: its request's, a stored answer (cached), or why it could not be built."""
    out: list[Outcome] = []
    seen: set[str] = set()
    for i, key in enumerate(plan.keys):
        if key is None:
            error = plan.invalid[i]
            out.append(Outcome("error", error_type="invalid_request", error_message=str(error)))
        elif key in plan.stored:
            out.append(stored_outcome(plan.stored[key], schema))
        else:
            outcome = sent[key]
            if key in seen and outcome.status == "ok":  # the same request in another row: answered once
                outcome = Outcome("cached", outcome.message, outcome.messages, outcome.parsed, 0.0, 0.0)
            out.append(outcome)
            seen.add(key)
    return out


def map(  # noqa: A001 - the public name, as in the issue: nbmessages.map
    data: Any,
    prompt: str | None = None,
    *,
    client: Any = None,
    concurrency: int = 16,
    cache: bool = True,
    dry_run: bool = False,
    on_error: str = "return",
    limits: dict[str, float] | None = None,
    name: str | None = None,
    progress: bool = True,
    mode: str = "realtime",
    retry_failed: bool = False,
    batch: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """One prompt over every row: a DataFrame aligned with ``data``'s index (answer, tokens, cost, status…).

    ``prompt`` is a template naming columns (``"Classify: {review}"``; other braces are sent as written);
    ``options`` are request fields (model, system, max_tokens, temperature, thinking, tools, output_format=…),
    named as in every front end's settings table, plus ``profile=`` (another backend for ``client``'s settings).
    Answers are kept in the ledger's database: running the same map again sends only the rows not answered
    yet (``cache=False`` asks again). ``dry_run=True`` returns an ``Estimate`` and sends nothing.
    ``mode="batch"`` sends the rows as Message Batches (half price, within 24 h), resumable after a restart;
    ``retry_failed=True`` resubmits errored and expired rows; ``batch={"poll_interval": 10, "max_interval": 60,
    "wait": True}`` tunes the polling (``wait=False`` returns the run at once).
    """
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {', '.join(repr(m) for m in MODES)}")
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error: {on_error!r} is not one of {', '.join(repr(v) for v in ON_ERROR)}")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency: must be an integer of 1 or more (got {concurrency!r})")
    limits_mod.check_limits(limits)
    client = client_for(client, options)
    if type(data).__module__.startswith("dask."):  # a Dask DataFrame: lazily, partition by partition
        from .partitions import map_dask

        _refuse_for_dask(dry_run, mode)
        return map_dask(data, prompt, client=client, limits=limits, concurrency=concurrency, cache=cache,
                        on_error=on_error, name=name, **options)
    params, schema = request_options(options)
    rows = build(data, prompt, params)
    if client is None:
        from ...client.asynchronous import AsyncClient

        client = AsyncClient()
    ledger = ledger_of(client)
    store = ResultStore(ledger)
    plan = make_plan(rows, client, store, cache, name)
    backend = f"{client.profile.name} {client.base_url}"
    provider = prices.provider_id(client.profile.name, urlsplit(client.base_url).netloc)
    if dry_run:
        return _preview(plan, len(rows.requests), client, concurrency, limits, backend, ledger, provider)
    if mode == "batch":
        return run_batch(rows, plan, client, store, schema, progress,
                         BatchOptions(retry_failed=retry_failed, **(batch or {})))
    return _run(rows, plan, client, store, schema, concurrency, limits, on_error, progress, backend, provider)


def _refuse_for_dask(dry_run: bool, mode: str) -> None:
    """What a Dask DataFrame cannot do here, said before anything is computed or sent."""
    if dry_run:
        raise ValueError("dry_run: a preview needs every row here; preview a sample (map(ddf.head(1000), …, "
                         "dry_run=True)) or a computed frame (ddf.compute())")
    if mode == "batch":
        raise ValueError("mode='batch' sends the rows as Message Batches from this machine: give a pandas "
                         "frame (ddf.compute()); the Dask path is real time")


def _preview(plan: Plan, n_rows: int, client: Any, concurrency: int, limits: dict[str, float] | None,
             backend: str, ledger: Any, provider: str | None) -> Estimate:
    known = limits_mod.recall(backend)
    model = plan.jobs[0].request.model if plan.jobs else ""
    latency = known.latency if known and known.latency is not None else _latency_seen(ledger, model)

    async def go() -> Estimate:
        derived = derive(client, concurrency, lambda response: None)
        try:
            return await estimate(plan, n_rows, derived, concurrency, limits, known, latency, provider)
        finally:
            await derived.close()

    result, _ = _in_thread(go, lambda: None, lambda loop: None)
    assert isinstance(result, Estimate)
    return result


def _run(rows: Rows, plan: Plan, client: Any, store: ResultStore, schema: Any, concurrency: int,
         limits: dict[str, float] | None, on_error: str, progress: bool, backend: str,
         provider: str | None) -> Any:
    # rows answered without a call of their own: stored answers, and repeats of a request in another row
    stored_rows = sum(1 for k in plan.keys if k in plan.stored)
    repeats = sum(1 for k in plan.keys if k is not None) - stored_rows - len(plan.jobs)
    tally = Tally(total=len(rows.requests), cached=stored_rows + repeats,
                  failed=len(plan.invalid))
    line = ProgressLine(tally, f"map {plan.map_id}", enabled=progress)
    box: dict[str, Engine] = {}

    host = urlsplit(client.base_url).netloc

    def price_of(message: Any) -> float | None:
        return price(message.usage, message.model, client.profile.name, host)

    async def go() -> dict[str, Outcome]:
        known = limits_mod.recall(backend)
        limiter = limits_mod.Limiter(concurrency, limits, probe=not (known is not None and known.silent))
        tally.limiter = limiter
        derived = derive(client, concurrency, lambda r: limiter.observe(r.headers, r.status_code))
        settings = Settings(plan.map_id, schema, on_error, retries_of(client), price_of)
        engine = box["engine"] = Engine(derived, limiter, store, settings, tally,
                                        SpendGate(client.budget, provider))
        try:
            return await engine.run(plan.jobs)
        finally:
            await derived.close()
            durations = [o.duration for o in engine.outcomes.values() if o.status == "ok" and o.duration]
            limits_mod.remember(backend, limiter, sum(durations) / len(durations) if durations else None)

    def interrupt(loop: asyncio.AbstractEventLoop) -> None:
        if "engine" in box:
            box["engine"].stop("interrupted")

    with _heap_frozen():
        sent, _ = _in_thread(go, line.update, interrupt)
    tally.ended = time.monotonic()
    engine = box["engine"]
    notes = {"interrupted": "⏹ Interrupted: finished rows are kept; run the same map again to send the rest.",
             "budget_exceeded": "💰 Stopped before the budget's limit: the rest was not sent; raise the budget "
                                "and run the same map again to continue.",
             "error": "⚠ Stopped at the first error (on_error='raise')."}
    outcomes = _row_outcomes(rows, plan, sent, schema)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("ok", "error", "cached", "skipped")}
    tally.done, tally.failed, tally.cached, tally.skipped = (counts["ok"], counts["error"], counts["cached"],
                                                             counts["skipped"])  # the final line = the frame
    line.finish(notes.get(engine.stopped or "", ""))
    frame = to_frame(rows, outcomes, schema)
    frame.attrs["map_id"] = plan.map_id
    if engine.failure is not None and on_error == "raise":
        raise engine.failure
    return frame
