"""Adapting to a quota the client was not told about.

Without ``requests_per_minute`` a client learns its quota from 429s. Left alone, every
worker retries on its own schedule and they return together, so most retries fail again.
`Throttle` makes the workers act as one: a 429 pauses *all* sends until the service's
retry hint has passed (a shared cooldown), and halves how many requests may be in flight;
each window of successes adds one back (additive increase, multiplicative decrease, as
TCP does). A short hint (≤ 2 s) is the service telling its spacing between requests, so
sends are also paced, relaxed a little after each success to probe for more.

The spacing learned from a 429 is the current spacing plus the hint. A token-bucket quota
answers a refused request with the time to its next token; a request sent ``s`` after the
previous one and told to wait ``h`` shows the tokens come at most every ``s + h`` — the hint
alone is shorter than the quota's interval whenever the bucket had partly refilled, and
pacing by it kept half the requests refused (found under load: 28 429s for 25 items).
The spacing never grows past twice the longest short hint seen: 429s that keep coming
whatever the pace (the service shedding a share of requests) must not slow the client
without bound. State lives behind a thread lock, so sync threads and event loops share it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

#: How long a waiter sleeps between looks at a full throttle.
_POLL = 0.005
#: The longest nap between looks (so a stopped call notices soon).
_MAX_NAP = 0.5
#: The pause after a 429 that carried no retry hint.
_DEFAULT_COOLDOWN = 1.0
#: Hints up to this long are read as the service's spacing between requests.
_MAX_PACING_HINT = 2.0
#: After each success the learned spacing shrinks by this factor (probing for more rate);
#: in balance about one 429 per 20 successes.
_PACING_RELAX = 0.98
#: The spacing's ceiling, in longest short hints seen (see the module docstring).
_PACING_CEILING = 2.0


class Throttle:
    def __init__(self, max_in_flight: int, *, slow_start: bool = False):
        self.max_in_flight = max_in_flight
        # Slow start: one request first, doubling per success until the first 429 (or the
        # maximum); then additive increase as below.
        self._slow_start = slow_start
        self._limit = 1.0 if slow_start else float(max_in_flight)
        self._in_flight = 0
        self._resume_at = 0.0
        self._interval = 0.0  # learned spacing between request starts (0: none)
        self._max_hint = 0.0  # the longest short retry hint seen: the spacing's ceiling
        self._next_start = 0.0
        self._last_cut = float("-inf")
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        """Requests currently allowed in flight."""
        return max(1, int(self._limit))

    def _try_enter(self) -> float:
        """0.0 if a request may start now (it is then counted), else seconds to wait."""
        with self._lock:
            now = time.monotonic()
            start = max(self._resume_at, self._next_start)
            if now < start:
                return start - now
            if self._in_flight >= self.limit:
                return _POLL
            self._in_flight += 1
            self._next_start = now + self._interval
            return 0.0

    def enter(self, check: Callable[[], None] | None = None) -> None:
        """Wait for a slot; ``check`` runs between naps and may raise to give up."""
        while (wait := self._try_enter()) > 0:
            if check is not None:
                check()
            time.sleep(min(wait, _MAX_NAP))

    async def aenter(self, check: Callable[[], None] | None = None) -> None:
        # Polling, not an asyncio.Event: the state is shared with threads and other loops.
        while (wait := self._try_enter()) > 0:
            if check is not None:
                check()
            await asyncio.sleep(min(wait, _MAX_NAP))

    def leave(
        self, *, throttled: bool = False, retry_after: float | None = None, pace: bool = True
    ) -> None:
        """Record how the request ended: a 429 (``throttled``) or anything else.
        ``pace=False``: the quota's limits are known, so a short hint does not set a
        spacing (the quota paces; the cooldown and the halving still apply)."""
        with self._lock:
            self._in_flight -= 1
            if not throttled:
                # +1 per `limit` successes: concurrency grows back by one per round trip
                # (in slow start, +1 per success: it doubles per round trip).
                step = 1.0 if self._slow_start else 1 / self._limit
                self._limit = min(self.max_in_flight, self._limit + step)
                self._interval *= _PACING_RELAX
                return
            self._slow_start = False
            now = time.monotonic()
            pause = _DEFAULT_COOLDOWN if retry_after is None else retry_after
            self._resume_at = max(self._resume_at, now + pause)
            # Many requests in flight see the same 429: react once per cooldown, not per reply.
            if now - self._last_cut < pause:
                return
            self._last_cut = now
            self._limit = max(1.0, self._limit / 2)
            if pace and retry_after is not None and 0 < retry_after <= _MAX_PACING_HINT:
                self._max_hint = max(self._max_hint, retry_after)
                self._interval = min(_PACING_CEILING * self._max_hint, self._interval + retry_after)
