"""Amounts in USD as people read them: cents (or more decimals), and two significant digits below that."""

from __future__ import annotations

import math


def usd(amount: float, decimals: int = 2) -> str:
    """``$5.00``, ``$0.25``, ``$0.002`` (not ``$0.00``); ``decimals=4`` for spend: ``$0.0611``, ``$0.000012``."""
    if amount == 0 or abs(amount) >= 10 ** -decimals:
        return f"${amount:.{decimals}f}"
    needed = min(12, 1 - math.floor(math.log10(abs(amount))))
    return "$" + f"{amount:.{needed}f}".rstrip("0")
