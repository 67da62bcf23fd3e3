"""Closing: one protocol for every omniembed object that holds connections.

`Closeable` turns a class's ``close()`` / ``aclose()`` into ``with`` and ``async with``.

`PerLoop` holds one async resource per event loop (an aiohttp session or an httpx async
client belongs to the loop that opened it, and can only be closed there) and closes each
in its own loop: on ``aclose()`` in that loop, or at the latest when that loop shuts down.
`asyncio.run`, `asyncio.Runner` (and so pytest-asyncio) finalize the loop's async
generators before closing it; `PerLoop` parks one small generator per loop to hear of it.
So an object used under several ``asyncio.run`` calls leaves no socket open behind any of
them, and a sync ``close()`` need not reach into loops that are gone.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from .errors import ConfigurationError

logger = logging.getLogger("omniembed")

_C = TypeVar("_C", bound="Closeable")
T = TypeVar("T")

#: Close tasks scheduled from sync code in a running loop (a task needs a strong reference
#: until it is done).
_pending: set[asyncio.Future[None]] = set()


def closed_error(owner: object) -> ConfigurationError:
    """The error every closed object raises when used: ``this X is closed; build a new one``."""
    name = owner if isinstance(owner, str) else type(owner).__name__
    return ConfigurationError(f"this {name} is closed; build a new one")


class Closeable:
    """``with`` / ``async with`` from ``close()`` / ``aclose()`` (which subclasses define).

    A mixin without state, so framework models (pydantic) gain no field by it."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@dataclass(eq=False)
class _Entry(Generic[T]):
    """One loop's resource and its guard."""

    value: T
    close_value: Callable[[T], Awaitable[None]]
    owner: str
    #: Suspended async generator registered with the loop: finalized at loop shutdown.
    guard: AsyncGenerator[None, None] | None = None
    done: bool = False

    async def finish(self) -> None:
        """Close the resource now (through the guard, so the loop forgets the guard)."""
        if self.guard is not None:
            await self.guard.aclose()  # runs its `finally`
        await self.release()

    async def release(self) -> None:
        if self.done:
            return
        self.done = True
        try:
            await self.close_value(self.value)
        except Exception:  # best effort: closing must not mask what the caller is doing
            logger.debug("closing %s's connections failed", self.owner, exc_info=True)


#: Every resource not closed yet, by loop, held strongly: a resource is closed in its loop,
#: never finalized (with an "Unclosed ..." warning) as garbage together with an owner that
#: was dropped without closing it.
_live: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[_Entry[Any]]] = (
    weakref.WeakKeyDictionary()
)
#: Reentrant: the garbage collector may run `_abandon` inside a locked region.
_live_lock = threading.RLock()


def _register(loop: asyncio.AbstractEventLoop, entry: _Entry[Any]) -> None:
    with _live_lock:
        _live.setdefault(loop, set()).add(entry)


def _unregister(loop: asyncio.AbstractEventLoop, entry: _Entry[Any]) -> None:
    with _live_lock:
        _live.get(loop, set()).discard(entry)


async def _guard(entry: _Entry[Any]) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        _unregister(asyncio.get_running_loop(), entry)
        await entry.release()


def _start_guard(loop: asyncio.AbstractEventLoop, entry: _Entry[Any]) -> None:
    """Run a guard up to its ``yield``: that registers it with the running loop, whose
    shutdown (``shutdown_asyncgens``) then runs its ``finally``. No hooks, no guard."""
    if sys.get_asyncgen_hooks().firstiter is None or getattr(
        loop, "_asyncgens_shutdown_called", False
    ):
        return
    agen = _guard(entry)
    try:
        agen.asend(None).send(None)
    except StopIteration:
        entry.guard = agen
        _register(loop, entry)
        return
    raise AssertionError("unreachable: the guard yields at once")  # pragma: no cover


def _spawn(entry: _Entry[Any]) -> None:
    """In the entry's loop: close it in a task of its own."""
    task = asyncio.get_running_loop().create_task(entry.finish())
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def _finish_everywhere(entries: list[tuple[asyncio.AbstractEventLoop, _Entry[Any]]]) -> None:
    """Close each entry in its own loop, as far as sync code can: in a loop running in
    this thread as a task, in one running elsewhere thread-safely, in an idle loop by
    running it briefly (or, while another loop runs here, when it next runs). A closed
    loop closed its resources when it shut down."""
    try:
        here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    for loop, entry in entries:
        if entry.done:
            continue
        if loop.is_closed():
            _unregister(loop, entry)
        elif loop is here:
            _spawn(entry)
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(entry.finish(), loop)
        elif here is None:
            loop.run_until_complete(entry.finish())
        else:
            loop.call_soon_threadsafe(_spawn, entry)


def _abandon(
    entries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Entry[Any]],
    lock: threading.RLock,
) -> None:
    """A `PerLoop` was dropped without closing: close its resources in their loops (this
    runs from the garbage collector, so it only schedules)."""
    with lock:
        items = list(entries.items())
        entries.clear()
    for loop, entry in items:
        if loop.is_closed():
            _unregister(loop, entry)
            continue
        try:
            loop.call_soon_threadsafe(_spawn, entry)
        except RuntimeError:  # closed meanwhile
            _unregister(loop, entry)


class PerLoop(Generic[T]):
    """One ``make()`` per running event loop, each closed by ``close(value)`` in its loop.

    ``owner`` names the object in the error `get` raises once closed."""

    def __init__(
        self, make: Callable[[], T], close: Callable[[T], Awaitable[None]], owner: str
    ) -> None:
        self._make = make
        self._close_value = close
        self._owner = owner
        self._lock = threading.RLock()
        self._entries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Entry[T]] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False
        weakref.finalize(self, _abandon, self._entries, self._lock).atexit = False

    def get(self) -> T:
        """The running loop's resource (made on first use in that loop)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise closed_error(self._owner)
            entry = self._entries.get(loop)
            if entry is None or entry.done:
                entry = _Entry(self._make(), self._close_value, self._owner)
                _start_guard(loop, entry)
                self._entries[loop] = entry
            return entry.value

    async def aclose(self) -> None:
        """Close the running loop's resource now, the others as `close` does."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._closed = True
            entry = self._entries.pop(loop, None)
        if entry is not None:
            await entry.finish()
        self.close()

    def close(self) -> None:
        """Close every loop's resource in its loop, as far as sync code can (a loop that
        already shut down closed its own)."""
        with self._lock:
            self._closed = True
            items = list(self._entries.items())
            self._entries.clear()
        _finish_everywhere(items)


__all__ = ["Closeable", "PerLoop", "closed_error"]
