"""The usage ledger (SQLite), prices and the budget; pandas loads only for the DataFrames."""

from .store import Ledger, get_ledger

__all__ = ["Ledger", "get_ledger"]
