"""Identifiers: deterministic ones derived from the request body, random ones for requests."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # base58, like the real ids


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_hash(body: Any) -> str:
    """The hex sha256 of a request body's canonical JSON."""
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def answer_seed(body: dict[str, Any]) -> str:
    """The hash the answer's ids derive from: the body less ``stream``, so both forms share their ids."""
    return body_hash({k: v for k, v in body.items() if k != "stream"})


def _base58(digest: bytes, length: int) -> str:
    number = int.from_bytes(digest, "big")
    chars: list[str] = []
    while len(chars) < length:
        number, rest = divmod(number, 58)
        chars.append(_ALPHABET[rest])
    return "".join(chars)


def derived_id(prefix: str, seed: str, *parts: object) -> str:
    """An id like ``msg_01…`` that depends only on ``seed`` (a body hash) and ``parts``."""
    text = ":".join([seed, *(str(p) for p in parts)])
    return f"{prefix}_01{_base58(hashlib.sha256(text.encode()).digest(), 22)}"


def signature(seed: str, *parts: object) -> str:
    """An opaque thinking signature (base64), deterministic like the ids."""
    text = ":".join([seed, "signature", *(str(p) for p in parts)])
    raw = hashlib.sha512(text.encode()).digest() + hashlib.sha256(text.encode()).digest()
    return "Eo" + base64.b64encode(raw).decode()


def request_id() -> str:
    """A fresh ``req_…`` id for one HTTP exchange (random: two calls never share it)."""
    return "req_011C" + _base58(secrets.token_bytes(24), 20)


def generation_id() -> str:
    """A fresh OpenRouter-style ``gen-<unix time>-<random>`` id."""
    return f"gen-{int(time.time())}-{_base58(secrets.token_bytes(24), 20)}"
