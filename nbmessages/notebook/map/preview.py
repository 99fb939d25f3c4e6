"""The preview of a map (``dry_run=True``): rows, unique and cached requests, tokens, cost and time, sent nothing.

Input tokens come from the backend's ``count_tokens`` for up to ``SAMPLE`` requests (scaled by size to the
rest) where the backend has it, else from a stated local estimate (4 characters a token). Worst-case cost
takes every request to ``max_tokens``; the expected cost takes the mean output of this map's stored answers,
or half of ``max_tokens`` when there are none yet. The expected time follows the known rate limits and
concurrency with the latency seen before on this backend (this process's maps, else the ledger).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ...client.errors import APIError
from ...ledger import prices
from ...ledger.money import usd
from .limits import Known
from .plan import Job, Plan

SAMPLE = 20


@dataclass
class Estimate:
    """What a map would send and cost, before anything is sent."""

    map_id: str
    rows: int
    unique: int
    cached: int
    to_send: int
    invalid: int
    input_tokens: int
    worst_case_usd: float | None
    expected_usd: float | None
    expected_seconds: float | None
    basis: list[str] = field(default_factory=list)  # how each figure was obtained

    @property
    def batch_expected_usd(self) -> float | None:
        """The expected cost with ``mode="batch"``: Message Batches bill half the standard prices."""
        return None if self.expected_usd is None else self.expected_usd / 2

    def to_dict(self) -> dict[str, Any]:
        """The figures as a dict."""
        return asdict(self)

    def _rows(self) -> list[tuple[str, str]]:
        def cost(value: float | None) -> str:
            return "unknown (no price for the model)" if value is None else usd(value, 4)

        seconds = "unknown" if self.expected_seconds is None else f"{self.expected_seconds:.1f} s"
        return [("map", self.map_id), ("rows", str(self.rows)), ("unique requests", str(self.unique)),
                ("already answered (cached)", str(self.cached)), ("to send", str(self.to_send)),
                ("rows that cannot be sent", str(self.invalid)), ("input tokens to send", f"{self.input_tokens:,}"),
                ("worst-case cost", cost(self.worst_case_usd)), ("expected cost", cost(self.expected_usd)),
                ("expected cost in batch mode", cost(self.batch_expected_usd) + " (mode='batch', within 24 h)"),
                ("expected time", seconds)]

    def _repr_markdown_(self) -> str:
        table = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in self._rows())
        notes = "\n".join(f"- {b}" for b in self.basis)
        return f"**Map preview: nothing was sent**\n\n{table}\n\n{notes}\n"

    def __repr__(self) -> str:
        width = max(len(k) for k, _ in self._rows())
        lines = [f"{k.ljust(width)}  {v}" for k, v in self._rows()]
        return "\n".join(["Map preview: nothing was sent", *lines, *(f"  · {b}" for b in self.basis)])


async def _counted(client: Any, jobs: list[Job]) -> list[int] | None:
    """count_tokens for each job (None when the backend does not count)."""
    async def one(job: Job) -> int:
        found = await client.messages.count_tokens(job.request)
        return int(found.input_tokens)

    try:
        return list(await asyncio.gather(*(one(j) for j in jobs)))
    except APIError:
        return None


async def input_tokens(client: Any, jobs: list[Job]) -> tuple[list[int], str]:
    """Input tokens per job and a sentence saying how they were found."""
    if not jobs:
        return [], "nothing to send"
    sample = jobs if len(jobs) <= SAMPLE else [jobs[i * len(jobs) // SAMPLE] for i in range(SAMPLE)]
    counted = await _counted(client, sample)
    if counted is None:
        return [math.ceil(j.chars / 4) for j in jobs], "input tokens: local estimate (4 characters a token); " \
                                                        "the backend has no count_tokens"
    if len(sample) == len(jobs):
        return counted, f"input tokens: counted by the backend's count_tokens for all {len(jobs)} requests"
    ratio = sum(counted) / max(1, sum(j.chars for j in sample))
    return [math.ceil(j.chars * ratio) for j in jobs], (
        f"input tokens: count_tokens on {len(sample)} of {len(jobs)} requests, scaled by size to the rest")


def _expected_output(plan: Plan) -> tuple[float | None, str]:
    outputs = [s.message.usage.output_tokens or 0 for s in plan.stored.values() if s.message.usage is not None]
    if outputs:
        return sum(outputs) / len(outputs), f"expected output: the mean of this map's {len(outputs)} stored answers"
    return None, "expected output: half of max_tokens (no answers of this map yet)"


def _costs(jobs: list[Job], tokens: list[int], mean_output: float | None, provider: str | None
           ) -> tuple[float | None, float | None]:
    worst = expected = 0.0
    for job, n in zip(jobs, tokens, strict=True):
        unit = prices.unit_prices(job.request.model, provider)
        if unit is None or unit.input is None or unit.output is None:
            return None, None
        out = mean_output if mean_output is not None else job.max_tokens / 2
        worst += (n * unit.input + job.max_tokens * unit.output) / 1e6
        expected += (n * unit.input + min(out, job.max_tokens) * unit.output) / 1e6
    return worst, expected


def _seconds(jobs: list[Job], tokens: list[int], mean_output: float | None, concurrency: int,
             known: Known | None, limits: dict[str, float], latency: float | None) -> tuple[float | None, str]:
    if not jobs:
        return 0.0, "expected time: nothing to send"
    limits = {**(known.limits if known else {}), **limits}
    output = sum(min(mean_output if mean_output is not None else j.max_tokens / 2, j.max_tokens) for j in jobs)
    bounds = {f"rpm {limits['rpm']:g}": len(jobs) / limits["rpm"] * 60} if "rpm" in limits else {}
    if "itpm" in limits:
        bounds[f"itpm {limits['itpm']:g}"] = sum(tokens) / limits["itpm"] * 60
    if "otpm" in limits:
        bounds[f"otpm {limits['otpm']:g}"] = output / limits["otpm"] * 60
    if latency is not None:
        bounds[f"concurrency {concurrency} at {latency:.2f} s a request"] = math.ceil(len(jobs) / concurrency) * latency
    if not bounds:
        return None, "expected time: unknown (no rate limits or latency seen on this backend yet)"
    slowest = max(bounds, key=bounds.__getitem__)
    return bounds[slowest], f"expected time: bound by {slowest}"


async def estimate(plan: Plan, rows: int, client: Any, concurrency: int, limits: dict[str, float] | None,
                   known: Known | None, latency: float | None, provider: str | None) -> Estimate:
    """The preview of a plan."""
    tokens, token_basis = await input_tokens(client, plan.jobs)
    mean_output, output_basis = _expected_output(plan)
    worst, expected = _costs(plan.jobs, tokens, mean_output, provider)
    seconds, time_basis = _seconds(plan.jobs, tokens, mean_output, concurrency, known, limits or {}, latency)
    return Estimate(plan.map_id, rows, plan.unique, len(plan.stored), len(plan.jobs), len(plan.invalid),
                    sum(tokens), worst, expected, seconds, [token_basis, output_basis, time_basis])
