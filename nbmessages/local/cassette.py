"""Recorded HTTP exchanges for replay: a JSON file holding a list of interactions, free of credentials.

Each interaction is ``{"request": {"method", "path", "body"}, "response": {"status", "headers", "body"}}``:
the request body parsed JSON (or text), the response body the raw text exactly as received (SSE included)
and only non-secret response headers (content type, request ids, retry hints).

Typical use by a client that records::

    cassette = Cassette.open("calls.json")            # empty if the file does not exist yet
    hit = cassette.match("POST", "/v1/messages", body)  # the recorded interaction, or None
    cassette.add("POST", "/v1/messages", body, status, headers, text)  # scrubbed as it is added
    cassette.save()
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..types.redact import REDACTED, scrub, scrub_value

KEPT_HEADERS = (
    "content-type", "request-id", "x-request-id", "x-generation-id", "retry-after", "retry-after-ms",
    "x-should-retry",
)
__all__ = ["REDACTED", "Cassette", "canonical_body", "normalize_path", "safe_headers", "scrub_value"]


def normalize_path(path: str) -> str:
    """``/api//v1/messages/?x=1`` → ``/api/v1/messages``: no query, no doubled or trailing slash; prefix kept."""
    path = path.split("?", 1)[0]
    path = "/" + "/".join(part for part in path.split("/") if part)
    return path


def canonical_body(body: Any) -> str:
    """A request body as canonical JSON (sorted keys); text that is not JSON stays as it is."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        if not body.strip():
            return ""
        try:
            body = json.loads(body)
        except ValueError:
            return body
    if body is None:
        return ""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _parsed(body: Any) -> Any:
    text = canonical_body(body)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def safe_headers(headers: Any) -> dict[str, str]:
    """Only the non-secret headers worth replaying, lower-cased."""
    items = headers.items() if hasattr(headers, "items") else headers
    kept = {str(k).lower(): str(v) for k, v in items if str(k).lower() in KEPT_HEADERS}
    return {k: scrub(v) for k, v in kept.items()}


class Cassette:
    """A list of recorded interactions, matched on method, normalised path and canonical request body."""

    def __init__(self, path: str | os.PathLike[str] | None = None, interactions: list[dict[str, Any]] | None = None):
        self.path = Path(path) if path is not None else None
        self.interactions: list[dict[str, Any]] = list(interactions or [])
        self._used: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read a cassette file (a JSON list of interactions, or ``{"interactions": [...]}``)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        interactions = data.get("interactions", []) if isinstance(data, dict) else data
        return cls(path, interactions)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Cassette:
        """The cassette at ``path``: loaded if the file exists, else empty (and saved there later)."""
        return cls.load(path) if Path(path).exists() else cls(path)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the cassette as JSON (atomically: a reader never sees half a file); returns the path."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this cassette has no path; pass one to save()")
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            text = json.dumps(self.interactions, indent=1, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, target)
        return target

    def add(self, method: str, path: str, body: Any, status: int, headers: Any, response_body: str | bytes
            ) -> dict[str, Any]:
        """Append one exchange, scrubbed of credentials; returns the stored interaction."""
        text = response_body.decode("utf-8", errors="replace") if isinstance(response_body, bytes) else response_body
        interaction = {
            "request": {"method": method.upper(), "path": normalize_path(path), "body": _parsed(body)},
            "response": {"status": int(status), "headers": safe_headers(headers), "body": text},
        }
        interaction = _scrubbed(interaction)
        with self._lock:
            self.interactions.append(interaction)
        return interaction

    def match(self, method: str, path: str, body: Any) -> dict[str, Any] | None:
        """The recorded interaction for this request, or None.

        Bodies are compared as canonical JSON after scrubbing. Several recordings of the same request are served in recorded order (a retried call replays its
        failures then its success); once all were served, the last one repeats.
        """
        # compare scrubbed forms: the stored body was scrubbed, so the incoming one must be too
        key = (method.upper(), normalize_path(path), canonical_body(scrub_value(_parsed(body))))
        with self._lock:
            found = [i for i in self.interactions if self._key(i) == key]
            if not found:
                return None
            turn = self._used[key]
            self._used[key] += 1
            return found[min(turn, len(found) - 1)]

    def rewind(self) -> None:
        """Serve repeated recordings from the first one again."""
        with self._lock:
            self._used.clear()

    def scrub(self) -> Cassette:
        """Remove every credential from every interaction (headers, key/token-like fields, secret strings)."""
        with self._lock:
            self.interactions = [_scrubbed(i) for i in self.interactions]
        return self

    @staticmethod
    def _key(interaction: dict[str, Any]) -> tuple[str, str, str]:
        request = interaction.get("request", {})
        return (str(request.get("method", "")).upper(), normalize_path(str(request.get("path", ""))),
                canonical_body(request.get("body")))

    def __len__(self) -> int:
        return len(self.interactions)


def _scrubbed(interaction: dict[str, Any]) -> dict[str, Any]:
    request = {k: v for k, v in interaction.get("request", {}).items() if k in ("method", "path", "body")}
    request["body"] = scrub_value(request.get("body"))
    response = dict(interaction.get("response", {}))
    response["headers"] = safe_headers(response.get("headers") or {})
    body = response.get("body")
    response["body"] = scrub(body) if isinstance(body, str) else body
    return {"request": request, "response": response}
