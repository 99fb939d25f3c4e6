"""The one scrubbing rule for everything that leaves nbmessages: errors, displays, ledger rows, logs, cassettes.

It removes the keys the clients were configured with (whatever their prefix) and key-like strings
(``sk-…``, ``Bearer …``, ``Basic …``, a URL's ``user:password@``). It lives in the types layer so that the
embedded server's cassettes use the same rule as the client.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET = 8  # shorter values are not remembered: scrubbing "abc" everywhere would mangle text

# header names that carry credentials: any name containing key, token, secret, password, auth…, cookie
_SECRET_HEADER = re.compile(r"key|token|secret|passw|auth|cookie|credential|session", re.IGNORECASE)
# JSON field names that hold credentials (anchored: max_tokens and input_tokens are not secrets)
_SECRET_FIELD = re.compile(
    r"(^|[_-])(key|token|api[_-]?key|apikey|secret|password|passwd|authorization|cookie|set[_-]cookie|"
    r"access[_-]?token|auth[_-]?token|refresh[_-]?token|bearer|session[_-]?token|private[_-]?key)$",
    re.IGNORECASE,
)
_KEY_LIKE = (
    r"sk-(?:ant|or|proj)-[A-Za-z0-9_\-]{8,}|\bsk-[A-Za-z0-9_\-]{20,}"
    r"|(?<=Bearer )[A-Za-z0-9._~+/=\-]{8,}|(?<=Basic )[A-Za-z0-9+/=]{8,}"
    r"|(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"
    r"|(?<=[?&;])(?:api[_-]?key|key|token|access[_-]?token|auth|secret|password)=[^&#\s]+"
)
_known: set[str] = set()
_lock = threading.Lock()
_pattern = re.compile(_KEY_LIKE)


def remember(secret: str | None) -> None:
    """A configured key (or header value, or URL password): scrubbed from now on wherever it shows."""
    global _pattern
    if not secret or len(secret) < MIN_SECRET or secret in _known:
        return
    with _lock:
        _known.add(secret)
        known = "|".join(re.escape(s) for s in sorted(_known, key=len, reverse=True))
        _pattern = re.compile(f"{known}|{_KEY_LIKE}")


def scrub(text: str) -> str:
    """``text`` with configured keys and key-like strings replaced by ``[REDACTED]``."""
    return _pattern.sub(REDACTED, text) if text else text


def scrub_value(value: Any) -> Any:
    """A JSON value with credential fields and secret strings replaced by ``[REDACTED]``, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_FIELD.search(str(k)) else scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def is_secret_header(name: str) -> bool:
    """Whether a header carries credentials (x-api-key, authorization, cookie, any *key*/*token*/*secret*)."""
    return bool(_SECRET_HEADER.search(name))


def masked(name: str, value: str) -> str:
    """A header value as it may be shown: credentials masked, anything else scrubbed of key-like strings."""
    if is_secret_header(name) or scrub(value) != value:
        return f"{REDACTED} ({len(value)} characters)"
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs each record's message before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def guard_loggers(*names: str) -> None:
    """Put the redacting filter on these loggers (once each)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
