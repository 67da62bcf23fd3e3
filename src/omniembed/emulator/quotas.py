"""Per-route requests-per-minute quotas as token buckets.

A route with ``rpm`` refills ``rpm / 60`` tokens per second up to a capacity of
``max(1, rpm / 60)`` (a one-second burst). Routes not listed use the ``"*"`` rate, each with
its own bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


class TokenBucket:
    def __init__(self, rpm: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rpm <= 0:
            raise ValueError(f"a quota must be a positive number of requests per minute, got {rpm}")
        self.rate = rpm / 60.0
        self.capacity = max(1.0, self.rate)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()

    def take(self) -> float:
        """Take one token: 0.0 if granted, else the seconds until the next token."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        # The epsilon lets a client that waited exactly the announced delay through.
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


class QuotaBook:
    """The buckets of one emulator; used from the server's event loop only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[tuple[str, float], TokenBucket] = {}
        self._clock = clock

    def take(self, quotas: Mapping[str, float] | None, route: str) -> float:
        """0.0 if ``route`` may run now, else the seconds to wait (the retry delay)."""
        if not quotas:
            return 0.0
        rpm = quotas.get(route, quotas.get("*"))
        if rpm is None:
            return 0.0
        key = (route, float(rpm))  # a changed quota starts a fresh bucket
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(float(rpm), self._clock)
        return bucket.take()

    def reset(self) -> None:
        self._buckets.clear()
