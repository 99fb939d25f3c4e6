"""Where a send runs: as a task on the kernel's running event loop, or on a private loop in a daemon thread.

Inside a Jupyter kernel the event loop already runs, so a send is a task on it (the kernel stays free to run
other cells; nothing calls ``asyncio.run``). In plain Python and in tests there is no running loop, so one
private loop runs in a background thread for the whole process.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

_private: asyncio.AbstractEventLoop | None = None
_private_lock = threading.Lock()


def private_loop() -> asyncio.AbstractEventLoop:
    """The process-wide background event loop (started on first use, a daemon thread)."""
    global _private
    with _private_lock:
        if _private is None or _private.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="nbmessages-playground", daemon=True)
            thread.start()
            _private = loop
        return _private


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread (a kernel's), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Job:
    """One send: ``start(work)`` runs ``work()`` on a loop; ``wait``, ``cancel`` and ``done`` from any thread."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = False
        self.finished = threading.Event()
        self.finished.set()
        self._future: Any = None
        self._work: Callable[[], Awaitable[None]] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> bool:
        """Whether a send is in progress."""
        return not self.finished.is_set()

    def start(self, work: Callable[[], Awaitable[None]], loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Run ``work()`` on ``loop``, else the kernel's running loop, else the private one."""
        self.finished.clear()
        self.started = False
        self._work = work
        self._schedule(loop or running_loop() or private_loop())

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        if running_loop() is loop:
            self._future = loop.create_task(self._main())
        else:
            self._future = asyncio.run_coroutine_threadsafe(self._main(), loop)

    async def _main(self) -> None:
        self.started = True
        try:
            assert self._work is not None
            await self._work()
        finally:
            self._tasks.clear()
            self.finished.set()

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """A task on the job's loop whose cancellation ``cancel()`` will request (call from inside the work)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        return task

    def cancel(self, abandon: Callable[[], None] | None = None) -> None:
        """Cancel the job's tasks (thread-safe); a job that has not started yet is dropped and ``abandon`` runs."""
        if not self.running or self.loop is None:
            return
        if not self.started and self._future is not None and self._future.cancel():
            if abandon is not None:
                abandon()
            self.finished.set()
            return
        self.loop.call_soon_threadsafe(self._cancel_tasks)

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends; return whether it did (see the module doc for a kernel's own thread)."""
        if not self.running:
            return True
        if self.loop is not None and running_loop() is self.loop:
            if self.started:  # blocking this thread would stop the very loop the send runs on
                warnings.warn(
                    "playground.wait() cannot block the kernel's event loop while a send runs on it; "
                    "use `await playground.wait_async()` in the cell instead", RuntimeWarning, stacklevel=3,
                )
                return False
            self._move_to_private_loop()
        return self.finished.wait(timeout)

    def _move_to_private_loop(self) -> None:
        """A send started in this cell has not run yet: run it on the private loop so this thread may block."""
        if self._future is not None and self._future.cancel():
            self._schedule(private_loop())

    async def wait_async(self, timeout: float | None = None) -> bool:
        """Await the job's end without blocking the loop; return whether it ended."""
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while self.running:
            if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True
