"""What both clients share: configuration, headers, request preparation, retry policy, call records."""

from __future__ import annotations

import asyncio
import base64
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
from ..request.profiles import Profile
from ..types import Message, RequestValidationError, redact
from ..types.openrouter import ResponseCache
from ..types.request_checks import json_problem
from ..types.rules import COUNT_TOKENS_FIELDS, DEFAULT_API_VERSION, MAX_BODY_BYTES, unsupported_version
from . import observers as records
from .cassettes import recording, replay_base_url
from .config import Settings, resolve
from .deadlines import CallClock
from .errors import APIConnectionError, APIError, APITimeoutError
from .openrouter import Extras
from .pool import DirectPool
from .responses import message_from
from .retries import retry_delay, should_retry
from .streams import StreamBase

log = logging.getLogger("nbmessages")
HTTP = TypeVar("HTTP", bound="httpx.Client | httpx.AsyncClient | DirectPool")

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
STREAM_ABOVE_MAX_TOKENS = 21_333  # above this a non-streamed answer risks the 10-minute idle limit
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
        anthropic_version: str = DEFAULT_API_VERSION,
        default_headers: dict[str, str] | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        deadline: float | None = None,
        ledger: Any = None,
        budget: float | None = None,
        tags: dict[str, str] | None = None,
        log_content: bool = False,
        record: str | Path | None = None,
        replay: str | Path | None = None,
        observers: Sequence[records.Observer] = (),
        app_url: str | None = None,
        app_title: str | None = None,
        app_categories: str | list[str] | None = None,
        openrouter_cache: bool | int | None = None,
        openrouter_metadata: bool | None = None,
    ) -> None:
        if (why := unsupported_version(anthropic_version)) is not None:
            raise ValueError(f"anthropic_version: {why}")
        if max_retries < 0:
            raise ValueError(f"max_retries: must be 0 or more (got {max_retries})")
        replay = replay or os.environ.get("NBMESSAGES_REPLAY")
        if replay and not base_url:
            base_url = replay_base_url(replay)
        self._record_path = record or os.environ.get("NBMESSAGES_RECORD")
        self._settings: Settings = resolve(api_key, base_url, profile)
        self._urls: dict[str, tuple[Settings, httpx.URL]] = {}
        self._header_sets: dict[tuple[Any, ...], tuple[Settings, httpx.Headers]] = {}
        _remember_secrets(self._settings, default_headers or {})
        self.anthropic_version = anthropic_version
        self.default_headers = dict(default_headers or {})
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout, connect=5.0)
        self.max_retries = max_retries
        if deadline is not None and not deadline > 0:
            raise ValueError(f"deadline: seconds for a whole call, more than 0, or None (got {deadline!r})")
        self.deadline = deadline
        self.tags = dict(tags or {})
        self.openrouter_options = Extras.of_client(app_url, app_title, app_categories, openrouter_cache,
                                                   openrouter_metadata)
        # what copy() starts from: the options as given (the backend is taken resolved, from _settings)
        self._options: dict[str, Any] = {
            "anthropic_version": anthropic_version, "default_headers": self.default_headers, "timeout": self.timeout,
            "max_retries": max_retries, "deadline": deadline, "ledger": ledger, "budget": budget, "tags": self.tags,
            "log_content": log_content, "record": record, "replay": replay, "app_url": app_url,
            "app_title": app_title, "app_categories": app_categories, "openrouter_cache": openrouter_cache,
            "openrouter_metadata": openrouter_metadata,
        }
        self._made = records.make_observers(
            {"ledger": ledger, "budget": budget, "tags": self.tags, "log_content": log_content,
             "profile": self.profile.name, "base_host": self._settings.base_host}
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

    @property
    def options(self) -> dict[str, Any]:
        """The options this client was made with, as ``copy()`` starts from them (the backend aside)."""
        return dict(self._options)

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
    def budget(self) -> records.SpendingGuard | None:
        """The budget guard of this client (``client.budget.limit = 10`` raises it), or None."""
        return next((o for o in self.observers if isinstance(o, records.SpendingGuard)), None)

    @property
    def ledger(self) -> Any:
        """The usage ledger this client records its calls in, or None."""
        return next((o.ledger for o in self.observers if isinstance(o, records.UsageRecorder)), None)

    @property
    def base_host(self) -> str:
        """The host (and port) requests go to, as the ledger records it."""
        return self._settings.base_host

    @property
    def uses_embedded_server(self) -> bool:
        """Whether this client talks to the embedded offline server because nothing was configured."""
        return self._settings.embedded

    def __repr__(self) -> str:
        key = "set" if self.api_key else "none"
        url = redact.scrub(self.base_url)
        return f"{type(self).__name__}(profile={self.profile.name!r}, base_url={url!r}, api_key=<{key}>)"

    # -- preparing a request

    def _header_set(self, stream: bool, req: Request | None = None) -> httpx.Headers:
        """The headers of a call, made once per kind of call while the client's settings stay (shared: not to be
        changed; httpx.Request copies them)."""
        extras = self._extras(req)
        kind = (stream, req is not None, extras, self.anthropic_version, tuple(self.default_headers.items()))
        known = self._header_sets.get(kind)
        if known is None or known[0] is not self._settings:
            if len(self._header_sets) >= 64:  # per-call options vary: keep the recent kinds only
                self._header_sets.clear()
            known = self._header_sets[kind] = (self._settings, httpx.Headers(self._made_headers(stream, extras, req)))
        return known[1]

    def _made_headers(self, stream: bool, extras: Extras, req: Request | None) -> dict[str, str]:
        key = self.api_key.get_secret_value() if self.api_key else None
        headers = {
            "content-type": "application/json",
            "anthropic-version": self.anthropic_version,
            "user-agent": "nbmessages/0.1",
            **self.profile.extra_headers,
            **extras.headers(self.profile, message_call=req is not None),
            **self.default_headers,
            **self.profile.auth_headers(key),
        }
        if self._settings.credentials is not None:  # a base URL's user:password@ wins, as httpx would do
            token = base64.b64encode(self._settings.credentials.get_secret_value().encode()).decode()
            headers["authorization"] = f"Basic {token}"
        if stream:
            headers["accept"] = "text/event-stream"
        return headers

    def request_headers(self, stream: bool = False) -> dict[str, str]:
        """The headers (key included) of a call to this backend that is not a message call."""
        return dict(self._header_set(stream))

    def _extras(self, req: Request | None) -> Extras:
        """The OpenRouter options of a call: its own over the client's."""
        own = req.call_meta.get("openrouter") if req is not None else None
        return own.over(self.openrouter_options) if own is not None else self.openrouter_options

    def _url(self, path: str) -> httpx.URL:
        """The URL of an API path, parsed once per path and backend (parsing took half of httpx.Request's time)."""
        known = self._urls.get(path)
        if known is None or known[0] is not self._settings:
            known = self._urls[path] = (self._settings, httpx.URL(self._settings.url(path)))
        return known[1]

    def prepare(self, request: Request | dict[str, Any] | None, params: dict[str, Any], stream: bool) -> Request:
        """The request to send: validated for this backend and version, and let through by every observer."""
        chat, tags, openrouter = params.pop("chat", None), params.pop("tags", None), Extras.pop_call(params)
        req = Request.of(request, **params).streamed(stream)
        self.profile.check(req, self.anthropic_version)  # after streamed(): some plugins do not run on streams
        req = req.mark_call(chat=chat, tags=tags, openrouter=openrouter)
        for observer in self.observers:
            observer.before_request(req)
        return req

    def encode(self, req: Request) -> bytes:
        """The JSON body this backend gets for ``req``; refused before sending past the API's size limit."""
        data = self.profile.body(req, req.extra_body)
        problem = json_problem(data)  # what the server would refuse: too deep, or not encodable
        if problem is not None:
            raise RequestValidationError([problem])
        # the response cache keys on the body's SHA-256, so equal requests must serialise byte for byte alike
        canonical = self.profile.response_caching and self._extras(req).caching
        content = json.dumps(data, ensure_ascii=False, sort_keys=canonical).encode()
        if len(content) > MAX_BODY_BYTES:
            mb = len(content) / 2**20
            limit = MAX_BODY_BYTES / 2**20
            raise RequestValidationError([("", f"the request body is {mb:.1f} MB; the API takes at most {limit:g} MB")])
        return content

    def build_request(self, method: str, path: str, content: bytes | None = None, stream: bool = False, *,
                      req: Request | None = None, params: dict[str, str] | None = None) -> httpx.Request:
        """An HTTP request to ``path`` under the API's ``/v1``, with this client's headers (and key).

        ``req``: the message call it sends (its per-call OpenRouter headers); ``params``: the URL's query.
        """
        return httpx.Request(method, self._url(path), content=content, params=params,
                             headers=self._header_set(stream, req))

    def count_body(self, request: Request | dict[str, Any] | None, params: dict[str, Any]) -> bytes:
        """The JSON body of a ``count_tokens`` call: the request checked, then only the fields it takes."""
        params.setdefault("max_tokens", 1)  # validation wants it; it is not sent
        req = Request.of(request, **params)
        self.profile.check(req, self.anthropic_version)
        body = {k: v for k, v in req.to_body().items() if k in COUNT_TOKENS_FIELDS}
        return json.dumps(body, ensure_ascii=False).encode()

    # -- responses, errors, records

    def call_clock(self) -> CallClock:
        """A new call's time limits: the read timeout as the idle limit, and the client's deadline."""
        return CallClock(self.timeout.read, self.deadline)

    @staticmethod
    def _transport_error(exc: httpx.TransportError) -> APIError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"the request timed out ({exc or type(exc).__name__})")
        return APIConnectionError(f"could not reach the API: {exc or type(exc).__name__}")

    def _retry_or_raise(self, error: APIError, attempt: int, clock: CallClock) -> float:
        """The wait before the next attempt, or raise the error when it is final (or no time is left)."""
        if attempt >= self.max_retries or not should_retry(error):
            raise error
        delay = retry_delay(attempt, error.headers, error.availability.retry_after if error.availability else None)
        if not clock.may_wait(delay):
            raise error
        clock.waiting(delay)
        log.info("%s; retrying in %.1f s (retry %d of %d)", error, delay, attempt + 1, self.max_retries)
        return delay

    @staticmethod
    def wants_stream(req: Request) -> bool:
        """Whether ``req`` asks for so many tokens that a whole answer risks the API's idle limit (so: stream it)."""
        return (req.max_tokens or 0) > STREAM_ABOVE_MAX_TOKENS


def _attach_parsed(req: Request, message: Message) -> None:
    try:
        message.keep_parsed_output(req.parse(message))
    except ValueError as exc:
        name = getattr(req.output_type, "__name__", "the output type")
        warnings.warn(f"structured output did not parse into {name}: {exc}", stacklevel=4)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Call:
    """One call of ``messages``: its HTTP request, its time limits and its record, whichever way it ends."""

    def __init__(self, client: BaseClient, req: Request, streamed: bool = False) -> None:
        self.client, self.req, self.streamed = client, req, streamed
        self.started_at, self.t0 = _now(), time.perf_counter()
        self.clock = client.call_clock()
        self.http_request = client.build_request(
            "POST", "messages", client.encode(req.streamed(streamed)), streamed, req=req)

    @contextmanager
    def recorded_failure(self) -> Iterator[None]:
        """Record what ends the call inside, and re-raise it: an API error (no answer arrived), an interrupt
        (KeyboardInterrupt, a cancelled task, mid-backoff included) or an unexpected exception."""
        try:
            yield
        except APIError as error:
            self.failed(error)
            raise
        except BaseException as exc:
            self.stopped(exc)
            raise

    def stopped(self, exc: BaseException) -> None:
        """Record a call ended by something other than an API error (an interrupt, an unexpected exception)."""
        interrupt = isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError, GeneratorExit))
        self.record("interrupted" if interrupt else "error", error=None if interrupt else exc,
                    duration=time.perf_counter() - self.t0, retries=self.clock.retries)

    def failed(self, error: APIError) -> None:
        """Record a call that failed before any answer arrived."""
        self.record(error.error_type or "error", error=error, duration=time.perf_counter() - self.t0,
                    retries=getattr(error, "retries", 0))

    def succeeded(self, response: httpx.Response, retries: int) -> Message:
        """The message of a whole (non-streamed) answer, recorded (a body that is no Message, as a failure)."""
        try:
            message = message_from(response)
        except APIError as error:
            error.retries = retries  # type: ignore[attr-defined]
            self.failed(error)
            raise
        if self.req.output_type is not None:
            _attach_parsed(self.req, message)
        self.record("ok", message=message, response=response, duration=time.perf_counter() - self.t0,
                    retries=retries)
        return message

    def stream_finished(self, stream: StreamBase, outcome: str, error: BaseException | None) -> None:
        """Record a stream however it ended, with the final message or the part received."""
        message = stream.final_message if outcome == "ok" else stream.current_message_snapshot
        if outcome == "ok" and self.req.output_type is not None and message is not None:
            _attach_parsed(self.req, message)
        self.record(outcome, message=message, response=stream.response, error=error, ttft=stream.ttft,
                    duration=stream.duration or 0.0, retries=stream.retries,
                    output_counted=stream.snapshot.output_counted)

    def record(
        self,
        outcome: str,
        *,
        message: Message | None = None,
        response: httpx.Response | None = None,
        error: BaseException | None = None,
        ttft: float | None = None,
        duration: float = 0.0,
        retries: int = 0,
        output_counted: bool = False,
    ) -> None:
        """Report this call to every observer of the client; an observer's failure is only a warning."""
        req, client = self.req, self.client
        meta = req.call_meta
        headers = response.headers if response is not None else getattr(error, "headers", httpx.Headers())
        cache = ResponseCache.from_headers(headers)
        if message is not None and cache is not None:
            message.note_response_cache(cache)
        record = records.CallRecord(
            started_at=self.started_at,
            profile=client.profile.name,
            base_host=client.base_host,
            model_requested=req.model,
            streamed=self.streamed,
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
            tags={**client.tags, **(meta.get("tags") or {})},
            params=req,
            error_message=str(error) if error is not None else None,
            output_counted=output_counted,
            simulated=client.profile.simulated,
            response_cache=cache.status if cache is not None else None,
            availability=getattr(getattr(error, "availability", None), "code", None),
        )
        for observer in client.observers:
            try:
                observer.record(record)
            except Exception as exc:  # a ledger failure must never cost the user the answer
                warnings.warn(f"nbmessages: could not record usage: {exc}", RuntimeWarning, stacklevel=2)


def _remember_secrets(settings: Settings, headers: dict[str, str]) -> None:
    """Teach the one scrubbing rule this client's key, URL credentials and credential headers."""
    for secret in (settings.api_key, settings.credentials):
        if secret is not None:
            redact.remember(secret.get_secret_value())
            redact.remember(secret.get_secret_value().partition(":")[2])  # a URL's password alone
    for name, value in headers.items():
        if redact.is_secret_header(name):
            redact.remember(value)
    redact.guard_loggers("nbmessages", "httpx")
