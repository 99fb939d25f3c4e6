"""What both clients share: configuration, headers, request preparation, retry policy, call records."""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr
from typing_extensions import Self

from ..request.builder import Request
from ..request.profiles import ANTHROPIC_VERSIONS, DEFAULT_ANTHROPIC_VERSION, MAX_BODY_BYTES, Profile
from ..types import Message, ModelInfo, ModelList, RequestValidationError, TokenCount
from . import observers as records
from .cassettes import recording, replay_base_url
from .config import Settings, resolve
from .errors import APIConnectionError, APIError, APITimeoutError
from .retries import retry_delay, should_retry
from .streams import StreamBase

log = logging.getLogger("nbmessages")
HTTP = TypeVar("HTTP", httpx.Client, httpx.AsyncClient)

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
STREAM_ABOVE_MAX_TOKENS = 21_333  # above this a non-streamed answer risks the 10-minute idle limit
_COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
                 "cache_control", "speed")
_BACKEND_OPTIONS = frozenset({"api_key", "base_url", "profile"})
_OBSERVER_OPTIONS = frozenset({"ledger", "budget", "tags", "log_content", "observers"})


class BaseClient:
    """Configuration, headers, request preparation, retry policy and call records: shared by both clients."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        profile: str | Profile | None = None,
        anthropic_version: str = DEFAULT_ANTHROPIC_VERSION,
        default_headers: dict[str, str] | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        ledger: Any = None,
        budget: float | None = None,
        tags: dict[str, str] | None = None,
        log_content: bool = False,
        record: str | Path | None = None,
        replay: str | Path | None = None,
        observers: Sequence[records.Observer] = (),
    ) -> None:
        if anthropic_version not in ANTHROPIC_VERSIONS:
            allowed = ", ".join(repr(v) for v in ANTHROPIC_VERSIONS)
            raise ValueError(f"anthropic_version: {anthropic_version!r} is not supported; use one of {allowed}")
        if max_retries < 0:
            raise ValueError(f"max_retries: must be 0 or more (got {max_retries})")
        replay = replay or os.environ.get("NBMESSAGES_REPLAY")
        if replay and not base_url:
            base_url = replay_base_url(replay)
        self._record_path = record or os.environ.get("NBMESSAGES_RECORD")
        self._settings: Settings = resolve(api_key, base_url, profile)
        self.anthropic_version = anthropic_version
        self.default_headers = dict(default_headers or {})
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout, connect=5.0)
        self.max_retries = max_retries
        self.tags = dict(tags or {})
        # what copy() starts from: the options as given (the backend is taken resolved, from _settings)
        self._options: dict[str, Any] = {
            "anthropic_version": anthropic_version, "default_headers": self.default_headers, "timeout": self.timeout,
            "max_retries": max_retries, "ledger": ledger, "budget": budget, "tags": self.tags,
            "log_content": log_content, "record": record, "replay": replay,
        }
        self._made = records.make_observers(
            {"ledger": ledger, "budget": budget, "tags": self.tags, "log_content": log_content}
        )
        self._extra = list(observers)
        self.observers = [*self._made, *self._extra]

    @classmethod
    def from_client(cls, client: BaseClient, **overrides: Any) -> Self:
        """A client of this class with ``client``'s settings, budget, ledger and observers, but for ``overrides``."""
        options = {**client._options, "api_key": client.api_key, "base_url": client.base_url,
                   "profile": client.profile, "observers": client._extra, **overrides}
        if "budget" not in overrides and client.budget is not None:
            options["budget"] = client.budget  # the same object: a copy spends from the same budget
        new = cls(**options)
        if not _BACKEND_OPTIONS & overrides.keys():
            new._settings = client._settings  # keeps what resolving found (the embedded server, say)
        if not _OBSERVER_OPTIONS & overrides.keys():
            new._made = client._made
            new.observers = [*new._made, *new._extra]
        return new

    def copy(self, **overrides: Any) -> Self:
        """A client like this one (same key, backend, budget, ledger, observers…), with ``overrides`` changed."""
        return self.from_client(self, **overrides)

    with_options = copy

    def _recorded(self, http: HTTP) -> HTTP:
        """``http``, recording every exchange into the cassette when this client records."""
        if self._record_path:
            recording(http, self._record_path)
        return http

    @property
    def profile(self) -> Profile:
        """The backend profile in use."""
        return self._settings.profile

    @property
    def base_url(self) -> str:
        """Where requests go."""
        return self._settings.base_url

    @property
    def api_key(self) -> SecretStr | None:
        """The key, as a SecretStr (``get_secret_value()`` to read it deliberately)."""
        return self._settings.api_key

    @property
    def budget(self) -> Any:
        """The budget guard of this client (``client.budget.limit = 10`` raises it), or None."""
        return next((o for o in self.observers if hasattr(o, "limit")), None)

    @property
    def uses_embedded_server(self) -> bool:
        """Whether this client talks to the embedded offline server because nothing was configured."""
        return self._settings.embedded

    def __repr__(self) -> str:
        key = "set" if self.api_key else "none"
        return f"{type(self).__name__}(profile={self.profile.name!r}, base_url={self.base_url!r}, api_key=<{key}>)"

    # -- preparing a request

    def _headers(self, stream: bool) -> dict[str, str]:
        key = self.api_key.get_secret_value() if self.api_key else None
        headers = {
            "content-type": "application/json",
            "anthropic-version": self.anthropic_version,
            "user-agent": "nbmessages/0.1",
            **self.profile.extra_headers,
            **self.default_headers,
            **self.profile.auth_headers(key),
        }
        if stream:
            headers["accept"] = "text/event-stream"
        return headers

    def _url(self, path: str) -> str:
        return f"{self.base_url}/v1/{path}"

    def _prepare(self, request: Request | dict[str, Any] | None, params: dict[str, Any], stream: bool) -> Request:
        meta = {"chat": params.pop("chat", None), "tags": params.pop("tags", None)}
        req = Request.of(request, **params)
        self.profile.check(req, self.anthropic_version)
        req = req.streamed(stream)
        req._call_meta = meta  # recorded with the call, never sent
        for observer in self.observers:
            observer.before_request(req)
        return req

    def _body(self, req: Request) -> bytes:
        content = json.dumps(self.profile.body(req, req.extra_body), ensure_ascii=False).encode()
        if len(content) > MAX_BODY_BYTES:
            mb = len(content) / 1e6
            raise RequestValidationError([("", f"the request body is {mb:.1f} MB; the API takes at most 32 MB")])
        return content

    def _http_request(self, path: str, content: bytes, stream: bool) -> httpx.Request:
        return httpx.Request("POST", self._url(path), content=content, headers=self._headers(stream))

    def _count_request(self, request: Request | dict[str, Any] | None, params: dict[str, Any]) -> httpx.Request:
        params.setdefault("max_tokens", 1)  # validation wants it; it is not sent
        req = Request.of(request, **params)
        self.profile.check(req, self.anthropic_version)
        body = {k: v for k, v in req.to_body().items() if k in _COUNT_FIELDS}
        return self._http_request("messages/count_tokens", json.dumps(body, ensure_ascii=False).encode(), False)

    def _models_request(self) -> httpx.Request:
        return httpx.Request("GET", self._url("models"), headers=self._headers(False))

    @staticmethod
    def _token_count(response: httpx.Response) -> TokenCount:
        return TokenCount.model_validate(response.json())

    @staticmethod
    def _model_list(response: httpx.Response) -> list[ModelInfo]:
        return ModelList.model_validate(response.json()).data

    # -- responses, errors, records

    @staticmethod
    def _transport_error(exc: httpx.TransportError) -> APIError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"the request timed out ({type(exc).__name__})")
        return APIConnectionError(f"could not reach the API: {exc or type(exc).__name__}")

    def _retry_or_raise(self, error: APIError, attempt: int) -> float:
        """The wait before the next attempt, or raise the error when it is final."""
        error.retries = attempt  # type: ignore[attr-defined]
        if attempt >= self.max_retries or not should_retry(error):
            raise error
        delay = retry_delay(attempt, error.headers)
        log.info("%s; retrying in %.1f s (retry %d of %d)", error, delay, attempt + 1, self.max_retries)
        return delay

    def _record(
        self,
        req: Request,
        started_at: datetime,
        outcome: str,
        *,
        message: Message | None = None,
        response: httpx.Response | None = None,
        error: BaseException | None = None,
        ttft: float | None = None,
        duration: float = 0.0,
        retries: int = 0,
        streamed: bool = False,
    ) -> None:
        meta = getattr(req, "_call_meta", {})
        headers = response.headers if response is not None else getattr(error, "headers", httpx.Headers())
        record = records.CallRecord(
            started_at=started_at,
            profile=self.profile.name,
            base_host=self._settings.base_host,
            model_requested=req.model,
            streamed=streamed,
            outcome=outcome,
            message=message,
            request_id=headers.get("request-id") or getattr(error, "request_id", None),
            generation_id=headers.get("x-generation-id"),
            status_code=response.status_code if response is not None else getattr(error, "status_code", None),
            ttft=ttft,
            duration=duration,
            retries=retries,
            session_id=req.session_id,
            chat=meta.get("chat"),
            tags={**self.tags, **(meta.get("tags") or {})},
            params=req,
            error_message=str(error) if error is not None else None,
        )
        for observer in self.observers:
            try:
                observer.record(record)
            except Exception as exc:  # a ledger failure must never cost the user the answer
                warnings.warn(f"nbmessages: could not record usage: {exc}", RuntimeWarning, stacklevel=2)

    def _message_from(self, req: Request, response: httpx.Response) -> Message:
        message = Message.model_validate(response.json())
        if req.output_type is not None:
            _attach_parsed(req, message)
        return message

    @staticmethod
    def _should_stream(req: Request) -> bool:
        return (req.max_tokens or 0) > STREAM_ABOVE_MAX_TOKENS


def _attach_parsed(req: Request, message: Message) -> None:
    try:
        message._parsed_output = req.parse(message)
    except ValueError as exc:
        warnings.warn(f"structured output did not parse into {req.output_type.__name__}: {exc}", stacklevel=4)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Call:
    """One call of ``messages``: its HTTP request, its clock and its record, whichever way it ends."""

    def __init__(self, client: BaseClient, req: Request, streamed: bool = False) -> None:
        self.client, self.req, self.streamed = client, req, streamed
        self.started_at, self.t0 = _now(), time.perf_counter()
        self.http_request = client._http_request("messages", client._body(req.streamed(streamed)), streamed)

    @contextmanager
    def recorded_failure(self) -> Iterator[None]:
        """Record an API error raised inside (a call that failed before any answer arrived), and re-raise it."""
        try:
            yield
        except APIError as error:
            self.client._record(self.req, self.started_at, error.error_type or "error", error=error,
                                streamed=self.streamed, duration=time.perf_counter() - self.t0,
                                retries=getattr(error, "retries", 0))
            raise

    def finish_stream(self, stream: StreamBase, outcome: str, error: BaseException | None) -> None:
        """Record a stream's end: the final message, or the partial one of a stream cut short."""
        message = stream.final_message if outcome == "ok" else stream.current_message_snapshot
        if outcome == "ok" and self.req.output_type is not None and message is not None:
            _attach_parsed(self.req, message)
        self.client._record(
            self.req, self.started_at, outcome, message=message, response=stream.response, error=error,
            ttft=stream.ttft, duration=stream.duration or 0.0, retries=stream.retries, streamed=True,
        )

    def succeeded(self, response: httpx.Response, retries: int) -> Message:
        """The message of a whole (non-streamed) answer, recorded."""
        message = self.client._message_from(self.req, response)
        self.client._record(self.req, self.started_at, "ok", message=message, response=response,
                            duration=time.perf_counter() - self.t0, retries=retries)
        return message
