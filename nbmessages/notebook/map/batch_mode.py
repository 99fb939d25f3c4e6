"""``map(..., mode="batch")``: the map's unique requests as Message Batches, at half price, resumable.

Each unique request's ``custom_id`` is its request hash (64 hex characters). The batches and the rows they
hold are in the ledger's database before ``map`` goes on, so the same map call after a kernel restart picks
them up (so does ``nbmessages.batches.resume()``); answers land in the map's store like real-time ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...client.sync import Client
from ..batch_runner import BatchRun, RowResult
from ..batch_runner import start as start_run
from .engine import parse_answer
from .frame import Outcome, Rows, to_frame
from .plan import Plan
from .progress import ProgressLine, Tally
from .store import ResultStore

NOT_RUN = {"canceled": "skipped", "submitted": "skipped", "not_submitted": "skipped"}


@dataclass
class BatchOptions:
    """How batch mode waits: resubmit failed rows, poll interval and its cap, or return at once."""

    retry_failed: bool = False
    wait: bool = True
    poll_interval: float = 10.0
    max_interval: float = 60.0


class _BatchState:
    """What the progress line shows where a real-time map shows its limiter: the batches' states."""

    def __init__(self, run: BatchRun) -> None:
        self.run = run

    def state(self) -> str:
        return self.run.status_line()


def _unique_requests(rows: Rows, plan: Plan) -> tuple[list[str], list[Any]]:
    keys: dict[str, Any] = {}
    for key, request in zip(plan.keys, rows.requests, strict=True):
        if key is not None and key not in keys:
            keys[key] = request
    return list(keys), list(keys.values())


def _outcome(result: RowResult, schema: Any) -> Outcome:
    if result.status == "succeeded" and result.message is not None:
        parsed, problem = parse_answer(result.message, schema)
        return Outcome("ok" if problem is None else "error", result.message, [result.message], parsed,
                       result.cost_usd, None, "validation_error" if problem else None, problem)
    status = NOT_RUN.get(result.status, "error")
    kind = result.error_type or (result.status if status == "error" else None)
    return Outcome(status, error_type=kind, error_message=result.error or (
        f"the batch request {result.status}" if status == "error" else None))


def _tally(run: BatchRun, tally: Tally, stored: int) -> None:
    counts = run.counts()
    tally.done = counts.get("succeeded", 0)
    tally.failed = counts.get("errored", 0) + counts.get("expired", 0)
    tally.cached = stored


def run_batch(rows: Rows, plan: Plan, client: Any, store: ResultStore, schema: Any, progress: bool,
              options: BatchOptions) -> Any:
    """Submit (or pick up) the map's batches, wait for them, and return the same frame a real-time map does."""
    import pandas as pd

    sync = client if isinstance(client, Client) else Client.from_client(client)
    keys, requests = _unique_requests(rows, plan)
    run = start_run(requests, client=sync, ledger=store.ledger, run=f"{plan.map_id}-batch", custom_ids=keys,
                    submit=False)
    run.submit([k for k in keys if k not in plan.stored])
    tally = Tally(total=len(keys), cached=len(plan.stored), limiter=_BatchState(run))
    line = ProgressLine(tally, f"map {plan.map_id} (batch)", enabled=progress)
    if not options.wait:
        _tally(run, tally, len(plan.stored))
        line.finish("Submitted: run the same map again, or nbmessages.batches.resume(), to collect the results.")
        return run

    def show(current: BatchRun) -> None:
        _tally(current, tally, len(plan.stored))
        line.update()

    try:
        results = run.wait(retry_failed=options.retry_failed, poll_interval=options.poll_interval,
                           max_interval=options.max_interval, progress=show)
    except KeyboardInterrupt:
        line.finish("⏹ Interrupted: the batches were canceled; rows already answered are kept.")
        raise
    outcomes: dict[str, Outcome] = {}
    for result in results:
        outcome = outcomes[result.custom_id] = _outcome(result, schema)
        if outcome.status == "ok" and outcome.message is not None and result.custom_id not in plan.stored:
            store.put(result.custom_id, plan.map_id, outcome.message, outcome.cost_usd, 0.0,
                      {"batch_id": result.batch_id, "cost_source": result.cost_source})
    for key, stored in plan.stored.items():
        outcomes[key] = Outcome("cached", stored.message, [stored.message], parse_answer(stored.message, schema)[0],
                                0.0, stored.duration)
    _tally(run, tally, len(plan.stored))
    line.finish(run.status_line())
    per_row: list[Outcome] = []
    seen: set[str] = set()
    for i, row_key in enumerate(plan.keys):
        if row_key is None:
            per_row.append(Outcome("error", error_type="invalid_request", error_message=str(plan.invalid[i])))
            continue
        outcome = outcomes[row_key]
        if row_key in seen and outcome.status == "ok":  # the same request in another row: answered (paid) once
            outcome = Outcome("cached", outcome.message, outcome.messages, outcome.parsed, 0.0, None)
        per_row.append(outcome)
        seen.add(row_key)
    frame = to_frame(rows, per_row, schema)
    by_key = {r.custom_id: r for r in results}
    sources: list[str | None] = []
    firsts: set[str | None] = set()
    for row_key in plan.keys:
        sources.append(_source(by_key, row_key, plan) if row_key not in firsts else "cached")
        firsts.add(row_key)
    frame["cost_source"] = pd.array(sources, dtype="string")
    frame.attrs["map_id"], frame.attrs["batch_run"] = plan.map_id, run.run
    return frame


def _source(by_key: dict[str, RowResult], key: str | None, plan: Plan) -> str | None:
    if key is None:
        return None
    if key in plan.stored:
        return "cached"
    result = by_key.get(key)
    return result.cost_source if result is not None else None
