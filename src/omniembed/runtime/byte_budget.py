"""A budget on the bytes of requests in flight, so embedding large media keeps memory flat.

Concurrency alone does not bound memory: eight 200 MB video windows in flight, each held
as bytes, base64 and JSON at once, need gigabytes. A batch waits while others hold the
budget; a batch larger than the whole budget still runs, alone.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

#: Media bytes (as sent, base64) in flight together. A request holds its media several
#: times over while it is built and sent (bytes, base64, JSON, the HTTP buffer), so this
#: is about a fifth of the memory it allows: a few full Gemini requests at once.
DEFAULT_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024


class ByteBudget:
    def __init__(self, limit: int = DEFAULT_MAX_INFLIGHT_BYTES):
        if limit < 1:
            raise ValueError(f"the in-flight byte budget must be >= 1, got {limit}")
        self.limit = limit
        self._used = 0
        self._condition = threading.Condition()
        self._loop_conditions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[asyncio.Condition, list[int]]
        ] = weakref.WeakKeyDictionary()

    def _fits(self, used: int, weight: int) -> bool:
        return used == 0 or used + weight <= self.limit

    @contextmanager
    def hold(self, weight: int) -> Iterator[None]:
        """Wait until ``weight`` bytes fit (threads)."""
        with self._condition:
            self._condition.wait_for(lambda: self._fits(self._used, weight))
            self._used += weight
        try:
            yield
        finally:
            with self._condition:
                self._used -= weight
                self._condition.notify_all()

    @asynccontextmanager
    async def ahold(self, weight: int) -> AsyncIterator[None]:
        """Wait until ``weight`` bytes fit (tasks of the running loop)."""
        loop = asyncio.get_running_loop()
        if loop not in self._loop_conditions:
            self._loop_conditions[loop] = (asyncio.Condition(), [0])
        condition, used = self._loop_conditions[loop]
        async with condition:
            await condition.wait_for(lambda: self._fits(used[0], weight))
            used[0] += weight
        try:
            yield
        finally:
            async with condition:
                used[0] -= weight
                condition.notify_all()
