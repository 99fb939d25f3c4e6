"""Costs filled in after the fact: OpenRouter's ``GET /api/v1/generation`` for calls whose answer carried none."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from . import prices

PRICED_WITHOUT_THE_BILL = (prices.UNKNOWN, prices.PRICE_TABLE)
"""Cost sources a generation record can replace: an interrupted stream, a streamed answer (no cost in its usage)."""


def fill_costs(ledger: Any, client: Any, limit: int = 100) -> int:
    """Look up the cost of up to ``limit`` recent calls through ``client`` whose answer carried none; returns how many.

    Only calls made to the client's host with a generation id qualify; their cost becomes OpenRouter's
    ``total_cost`` with ``cost_source = "generation_lookup"``. A generation not yet on record (OpenRouter
    writes it a moment after the call) is left for a later run.
    """
    from ..client.errors import NotFoundError

    if not client.profile.account_api:
        raise ValueError(f"fill_costs: the {client.profile.name!r} profile has no generation lookup (OpenRouter has)")
    marks = ", ".join("?" * len(PRICED_WITHOUT_THE_BILL))
    found = ledger.rows(
        f"WHERE generation_id IS NOT NULL AND base_host = ? AND (cost_source IS NULL OR cost_source IN ({marks}))"
        " ORDER BY ts DESC LIMIT ?",
        (urlsplit(client.base_url).netloc, *PRICED_WITHOUT_THE_BILL, limit),
    )
    filled = 0
    for row in found:
        try:
            record = client.openrouter.generation(row["generation_id"])
        except NotFoundError:
            continue
        if record.total_cost is None:
            continue
        with ledger.lock:
            ledger.connection.execute("UPDATE calls SET cost_usd = ?, cost_source = ? WHERE id = ?",
                                      (float(record.total_cost), prices.GENERATION_LOOKUP, row["id"]))
        filled += 1
    return filled
