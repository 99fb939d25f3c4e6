"""``nbmessages.batches``: requests in batch mode (half price, results within 24 h), resumable after a restart.

``run = nbmessages.batches.submit(requests)`` creates the batches and records them in the ledger database;
``run.wait()`` polls with backoff and returns one result per request; ``nbmessages.batches.resume()`` picks
the latest run up again in a new kernel.
"""

from __future__ import annotations

from .notebook.batch_runner import BatchRun, RowResult, chunked, custom_id_for, resume
from .notebook.batch_runner import start as submit

__all__ = ["BatchRun", "RowResult", "chunked", "custom_id_for", "resume", "submit"]
