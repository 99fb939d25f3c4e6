"""Record real exchanges into a cassette (credentials removed), and replay them through the local server."""

from __future__ import annotations

import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from .pool import DirectPool

if TYPE_CHECKING:
    from ..local.cassette import Cassette

_replays: dict[Path, Any] = {}
_replays_lock = threading.Lock()
# one per file while a client records into it: a client and its copies add to the same one
_cassettes: weakref.WeakValueDictionary[Path, Cassette] = weakref.WeakValueDictionary()


class _Tee(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response byte stream that passes chunks through and hands the whole body over when closed."""

    def __init__(self, inner: Any, done: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._done: Callable[[bytes], None] | None = done
        self._chunks: list[bytes] = []

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk

    def _finish(self) -> None:
        done, self._done = self._done, None
        if done is not None:
            done(b"".join(self._chunks))

    def close(self) -> None:
        self._inner.close()
        self._finish()

    async def aclose(self) -> None:
        await self._inner.aclose()
        self._finish()


class _SyncTee(_Tee, httpx.SyncByteStream):
    pass


class _AsyncTee(_Tee, httpx.AsyncByteStream):
    pass


class _Recorder:
    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette

    def prepare(self, request: httpx.Request) -> None:
        # an uncompressed body is what replay serves back byte for byte
        request.headers["accept-encoding"] = "identity"

    def wrap(self, request: httpx.Request, response: httpx.Response, tee: type[_Tee]) -> httpx.Response:
        def done(body: bytes) -> None:
            self.cassette.add(request.method, request.url.path, request.content, response.status_code,
                              response.headers, body)
            self.cassette.save()

        return httpx.Response(response.status_code, headers=response.headers,
                              stream=tee(response.stream, done), extensions=response.extensions)


class RecordingTransport(httpx.BaseTransport):
    """A transport that records every exchange it carries into a cassette file."""

    def __init__(self, inner: httpx.BaseTransport, cassette: Cassette) -> None:
        self._inner, self._recorder = inner, _Recorder(cassette)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._recorder.prepare(request)
        return self._recorder.wrap(request, self._inner.handle_request(request), _SyncTee)

    def close(self) -> None:
        self._inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    """The async twin of RecordingTransport."""

    def __init__(self, inner: httpx.AsyncBaseTransport, cassette: Cassette) -> None:
        self._inner, self._recorder = inner, _Recorder(cassette)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._recorder.prepare(request)
        return self._recorder.wrap(request, await self._inner.handle_async_request(request), _AsyncTee)

    async def aclose(self) -> None:
        await self._inner.aclose()


def recording(http_client: httpx.Client | httpx.AsyncClient | DirectPool, path: str | Path) -> None:
    """Make an httpx client (or a pool of ours) record every exchange into the cassette at ``path``."""
    from ..local.cassette import Cassette  # the server package loads only when someone records

    key = Path(path).resolve()
    with _replays_lock:
        cassette = _cassettes.get(key)
        if cassette is None:
            cassette = _cassettes[key] = Cassette.open(key)
    if isinstance(http_client, DirectPool):
        http_client.transport = AsyncRecordingTransport(http_client.transport, cassette)
    # httpx has no public way to wrap an existing client's transport; swapping it keeps the user's settings
    elif isinstance(http_client, httpx.AsyncClient):
        http_client._transport = AsyncRecordingTransport(http_client._transport, cassette)  # noqa: SLF001
    else:
        http_client._transport = RecordingTransport(http_client._transport, cassette)  # noqa: SLF001


def replay_base_url(path: str | Path) -> str:
    """The base URL of a local server replaying the cassette at ``path`` (one server per cassette)."""
    from ..local import Cassette, start

    key = Path(path).resolve()
    with _replays_lock:
        server = _replays.get(key)
        if server is None or not server.running:
            server = _replays[key] = start(replay=key, pace=0, ttft=0)
    paths = [i["request"]["path"] for i in Cassette.load(key).interactions]
    return server.base_url + ("/api" if paths and paths[0].startswith("/api/") else "")
