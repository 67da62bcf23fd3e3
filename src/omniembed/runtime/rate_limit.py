"""Client-side rate limiting, counted per HTTP request.

A GCRA (virtual scheduling) limiter: request *n* may start no earlier than
``start + n / rate``, with an optional burst allowance. Reservations are made under a
thread lock and the caller sleeps outside it, so one limiter can be shared by sync
threads, several event loops, and several embedders that draw on the same quota.
"""

from __future__ import annotations

import asyncio
import threading
import time


class RateLimiter:
    """Paces requests to stay within ``requests_per_minute``.

    ``burst`` requests may go out back to back before even spacing applies. The default is
    one second's worth of the quota less one: a per-minute quota tolerates a second's
    burst, strict spacing (``burst=1``) would leave the start of every run idle, and the
    one held back absorbs network jitter (a request arriving a little early).
    """

    def __init__(self, requests_per_minute: float, burst: int | None = None):
        if requests_per_minute <= 0:
            raise ValueError(f"requests_per_minute must be > 0, got {requests_per_minute}")
        if burst is None:
            burst = max(1, int(requests_per_minute // 60) - 1)
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.requests_per_minute = float(requests_per_minute)
        self.burst = burst
        self._interval = 60.0 / self.requests_per_minute
        self._lock = threading.Lock()
        self._next_free = 0.0  # theoretical arrival time of the next request (monotonic)

    def reserve(self) -> float:
        """Claim the next slot; return how many seconds to wait before using it."""
        with self._lock:
            now = time.monotonic()
            tolerance = self._interval * (self.burst - 1)
            start = max(self._next_free, now - tolerance)
            self._next_free = start + self._interval
            return max(0.0, start - now)

    def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)

    async def aacquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    def __repr__(self) -> str:
        return f"RateLimiter(requests_per_minute={self.requests_per_minute:g}, burst={self.burst})"
