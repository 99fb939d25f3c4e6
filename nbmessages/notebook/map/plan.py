"""Which requests a map sends: each row's request hash, identical requests once, stored answers not again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ...request.builder import Request
from ...types import RequestValidationError
from .frame import Rows
from .store import ResultStore, Stored, backend_hash, canonical

CHARS_PER_TOKEN = 4.0  # the usual rule of thumb, corrected by the answers' real counts as they come in


@dataclass
class Job:
    """One unique request to send: its hash, the request, its size in characters and its max_tokens."""

    key: str
    request: Request
    chars: int
    max_tokens: int


@dataclass
class Plan:
    """Per row its request hash (None: the row could not be built), the jobs to send, the stored answers."""

    map_id: str
    keys: list[str | None]
    jobs: list[Job]
    stored: dict[str, Stored]
    invalid: dict[int, RequestValidationError] = field(default_factory=dict)

    @property
    def unique(self) -> int:
        """Distinct requests among the rows."""
        return len({k for k in self.keys if k is not None})


def sent_body(client: Any, request: Request) -> dict[str, Any]:
    """The body as the client sends it to its backend (unstreamed)."""
    body: dict[str, Any] = client.profile.body(request, request.extra_body)
    return body


def make_plan(rows: Rows, client: Any, store: ResultStore, cache: bool, name: str | None = None) -> Plan:
    """Hash every row's request, keep one job per distinct request, and find the answers already stored."""
    keys: list[str | None] = []
    jobs: dict[str, Job] = {}
    contents: set[str] = set()  # the bodies' own hashes: the map's id does not depend on where it is sent
    invalid: dict[int, RequestValidationError] = {}
    profile, base_url = client.profile.name, client.base_url
    for i, request in enumerate(rows.requests):
        if isinstance(request, RequestValidationError):
            keys.append(None)
            invalid[i] = request
            continue
        body = sent_body(client, request)
        text = canonical(body)  # made once: both hashes read it
        key = backend_hash(profile, base_url, text)
        keys.append(key)
        if key not in jobs:
            contents.add(backend_hash("", "", text))
            size = json.dumps({k: body.get(k) for k in ("system", "messages", "tools")}, ensure_ascii=False)
            jobs[key] = Job(key, request, len(size), int(request.max_tokens or 0))
    digest = hashlib.sha256("\n".join(sorted(contents)).encode()).hexdigest()[:12]
    map_id = name or f"map-{digest}"
    stored = store.find(jobs) if cache else {}
    return Plan(map_id, keys, [j for k, j in jobs.items() if k not in stored], stored, invalid)
