"""Claims of a map over Dask in a real ledger file: one sender per request, takeover of a silent owner."""

from __future__ import annotations

import threading
import time

from nbmessages.ledger.store import Ledger
from nbmessages.notebook.map import claims as claims_mod
from nbmessages.notebook.map.claims import Claims, Settled


def test_each_request_has_one_owner_and_the_others_wait_for_it(ledger_path):
    first, second = Claims(Ledger(ledger_path), "run-1"), Claims(Ledger(ledger_path), "run-1")  # two connections
    assert first.claim("p0", ["a", "b"]) == ["a", "b"]
    assert second.claim("p1", ["b", "c"]) == ["c"]
    assert first.claim("p0", ["a", "b"]) == ["a", "b"]  # the same partition run again owns its claims again
    assert Claims(Ledger(ledger_path), "run-2").claim("p1", ["a"]) == ["a"]  # another map call: its own claims
    threading.Timer(0.2, first.settle, ("b", "overloaded_error", "busy")).start()
    settled, taken = second.wait("p1", ["b"])
    assert settled == {"b": Settled("error", "overloaded_error", "busy")} and taken == []


def test_a_claim_whose_owner_fell_silent_is_taken_over(ledger_path, monkeypatch):
    monkeypatch.setattr(claims_mod, "STALE", 0.3)
    dead, alive = Claims(Ledger(ledger_path), "run"), Claims(Ledger(ledger_path), "run")
    assert dead.claim("p0", ["a"]) == ["a"]  # and its worker dies: no beat, no settle
    started = time.monotonic()
    settled, taken = alive.wait("p1", ["a"])
    assert taken == ["a"] and settled == {} and time.monotonic() - started >= 0.3


def test_an_owner_that_beats_keeps_its_claims(ledger_path, monkeypatch):
    monkeypatch.setattr(claims_mod, "STALE", 0.5)
    monkeypatch.setattr(claims_mod, "BEAT", 0.1)
    owner, other = Claims(Ledger(ledger_path), "run"), Claims(Ledger(ledger_path), "run")
    owner.claim("p0", ["a"])
    with owner.beating("p0"):
        threading.Timer(1.0, owner.settle, ("a",)).start()  # slow (rate limited), but alive
        settled, taken = other.wait("p1", ["a"])
    assert settled == {"a": Settled("done")} and taken == []
