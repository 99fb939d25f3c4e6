"""One prompt over a DataFrame: ``nbmessages.map(df, "Classify: {review}", ...)``, the fourth front end.

Importing this package (``nbmessages.map`` does on first use) registers the ``df.messages`` accessor.
"""

from __future__ import annotations

from typing import Any

from .accessor import register
from .preview import Estimate
from .run import map
from .store import ResultStore, ledger_of


def estimate(data: Any, prompt: str | None = None, **options: Any) -> Estimate:
    """What ``map(data, prompt, **options)`` would send and cost, sending nothing (``dry_run=True``)."""
    result: Estimate = map(data, prompt, dry_run=True, **options)
    return result


def forget(map_id: str | None = None, client: Any = None) -> int:
    """Delete the stored answers of a map (every map's when None) from the client's ledger; how many went."""
    if client is None:
        from ...ledger.store import get_ledger

        return ResultStore(get_ledger()).forget(map_id)
    return ResultStore(ledger_of(client)).forget(map_id)


register()

__all__ = ["Estimate", "estimate", "forget", "map"]
