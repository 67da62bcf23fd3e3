"""Quotas as the services count them: requests per minute (in the service's own unit),
input tokens per minute, and requests per day.

`Quota` is the one limiter every request passes. It keeps a sliding window of what was
sent in the last minute and admits a request only if the window plus the request stays
within every per-minute limit — "if your RPM limit is 20, making 21 requests within a
minute will result in an error" (ai.google.dev/gemini-api/docs/rate-limits). A sliding
window is the strictest reading: a client that satisfies it also satisfies a fixed
per-minute window and a token bucket of the same size, so it holds whichever the service
uses. A sent request stays in the window until its answer arrives plus one window (the
service counted it at arrival, some time before the answer), and a short margin covers
clock skew.

What one "request" is depends on the service (``unit``): the Gemini API counts every
embedded content of a ``batchEmbedContents`` call against RPM and RPD (``"item"``); Vertex
AI and DashScope count HTTP calls (``"call"``). See `omniembed.providers.quota_table`.

A daily limit is tracked too: when the configured ``requests_per_day`` cannot admit a
request, or a 429 names a per-day quota, `DailyQuotaExceededError` is raised at once with
the reset time (midnight Pacific for Google) — retrying before then cannot succeed.

Limits learnt from a 429 (``quotaValue`` in Google's ``QuotaFailure``) replace unknown ones,
so a client that was told nothing paces itself after the first rejection. One `Quota` can
be shared by several embedders, threads and event loops (state is behind a thread lock);
`share` gives one process its part of a project's quota.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ..errors import DailyQuotaExceededError, QuotaExceededError

logger = logging.getLogger("omniembed.runtime")

Unit = Literal["item", "call"]
#: Where Google's per-day quotas reset: "Requests per day (RPD) quotas reset at midnight
#: Pacific time" (ai.google.dev/gemini-api/docs/rate-limits).
PACIFIC = "America/Los_Angeles"
#: Added to the window: the service's clock and ours, and its arrival time and our
#: answer time, differ a little (at most 1% of a time-scaled window).
WINDOW_MARGIN_SEC = 0.25
#: The longest a waiting request sleeps before looking again (e.g. whether its call
#: was stopped meanwhile).
MAX_NAP_SEC = 0.5
#: After a 429 naming a token quota the client already respected, its token estimates are
#: scaled up by this much (the service counts more tokens than we estimated).
_TOKEN_CORRECTION = 1.15


class RequestTooLarge(QuotaExceededError):
    """A request is larger than one minute of the quota: it can never be admitted (the
    runtime re-packs a batch of several inputs; a single input fails with this)."""

    retryable = False


@dataclass(frozen=True)
class QuotaLimits:
    """A quota's figures. None means "no limit known"; ``unit`` says what a request is."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    requests_per_day: float | None = None
    unit: Unit = "call"
    #: Where the figures come from, e.g. "Gemini API free tier (ai.google.dev, 2026-11)".
    source: str = "explicit"

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute", "requests_per_day"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
            ):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")
        if self.unit not in ("item", "call"):
            raise ValueError(f"unit must be 'item' or 'call', got {self.unit!r}")

    @property
    def empty(self) -> bool:
        return (
            self.requests_per_minute is None
            and self.tokens_per_minute is None
            and self.requests_per_day is None
        )

    def override(
        self,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        requests_per_day: float | None = None,
    ) -> QuotaLimits:
        """These limits with every given number replacing its field (explicit wins)."""
        given: dict[str, Any] = {
            k: v
            for k, v in (
                ("requests_per_minute", requests_per_minute),
                ("tokens_per_minute", tokens_per_minute),
                ("requests_per_day", requests_per_day),
            )
            if v is not None
        }
        if not given:
            return self
        source = "explicit" if self.empty else f"{self.source}; explicit {', '.join(given)}"
        return replace(self, **given, source=source)

    def share(self, parts: int) -> QuotaLimits:
        """One of ``parts`` equal shares (e.g. per Ray worker or per process)."""
        if parts < 1:
            raise ValueError(f"parts must be >= 1, got {parts}")
        if parts == 1:
            return self

        def part(value: float | None) -> float | None:
            return None if value is None else value / parts

        return replace(
            self,
            requests_per_minute=part(self.requests_per_minute),
            tokens_per_minute=part(self.tokens_per_minute),
            requests_per_day=part(self.requests_per_day),
            source=f"{self.source}, 1/{parts} share",
        )

    def describe(self) -> str:
        """``"100 requests/min (each input counts), 30,000 tokens/min, 1,000 requests/day"``."""
        if self.empty:
            return "no quota given (learnt from the service's 429 answers)"
        counted = "each input counts" if self.unit == "item" else "each HTTP call counts"
        parts = []
        if self.requests_per_minute is not None:
            parts.append(f"{self.requests_per_minute:,.0f} requests/min ({counted})")
        if self.tokens_per_minute is not None:
            parts.append(f"{self.tokens_per_minute:,.0f} tokens/min")
        if self.requests_per_day is not None:
            parts.append(f"{self.requests_per_day:,.0f} requests/day")
        return ", ".join(parts)


@dataclass
class Permit:
    """One admitted request: its place in the window until `Quota.release`."""

    sent_at: float
    units: int
    tokens: int


class Quota:
    """The limiter for one quota: a sliding per-minute window of requests (in ``unit``) and
    input tokens, and a per-day count. Thread-safe; share one between embedders that draw
    on the same project quota.

    ``window_sec`` is the service's minute: change it only to match a time-scaled test
    server. ``clock`` (monotonic seconds) and ``now`` (aware wall time) are for tests.
    """

    def __init__(
        self,
        limits: QuotaLimits | None = None,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        requests_per_day: float | None = None,
        unit: Unit | None = None,
        window_sec: float = 60.0,
        reset_timezone: str = PACIFIC,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        base = limits or QuotaLimits()
        if unit is not None:
            base = replace(base, unit=unit)
        self._limits = base.override(
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            requests_per_day=requests_per_day,
        )
        if window_sec <= 0:
            raise ValueError(f"window_sec must be > 0, got {window_sec}")
        #: Whether ``unit`` was chosen by the caller (else the embedder's service sets it).
        self.unit_given = unit is not None or limits is not None
        self.window_sec = float(window_sec)
        self.reset_timezone = reset_timezone
        self._clock = clock
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._window: list[tuple[float, int, int]] = []  # (counted until, units, tokens)
        self._in_flight: list[Permit] = []
        # What the window and the requests in flight hold, by field of a window entry
        # (1: units, 2: tokens), kept as they change: summing them per request made each
        # admission O(window), ~0.3 ms on the event loop with 500 calls in the minute.
        self._window_used = [0, 0, 0]
        self._in_flight_used = [0, 0, 0]
        self._day: str | None = None
        self._day_used = 0
        self._exhausted: DailyQuotaExceededError | None = None
        self.token_factor = 1.0

    # --- what it is ----------------------------------------------------------------------

    @property
    def limits(self) -> QuotaLimits:
        return self._limits

    @property
    def unit(self) -> Unit:
        return self._limits.unit

    def adopt_unit(self, unit: Unit) -> None:
        """Set the unit from the embedder's service, unless the caller chose one."""
        if not self.unit_given:
            with self._lock:
                self._limits = replace(self._limits, unit=unit)

    def units(self, items: int) -> int:
        """What a call embedding ``items`` inputs costs against the request limits."""
        return items if self.unit == "item" else 1

    def estimate(self, tokens: int) -> int:
        """A token estimate scaled by what the service has taught us (see `learn`)."""
        return math.ceil(tokens * self.token_factor)

    def batch_caps(self) -> tuple[int | None, int | None]:
        """The most items and estimated tokens one call may carry: one minute of the quota
        (a larger call could never be admitted)."""
        limits = self._limits
        items = None
        if self.unit == "item" and limits.requests_per_minute is not None:
            items = max(1, int(limits.requests_per_minute))
        tokens = None
        if limits.tokens_per_minute is not None:
            tokens = max(1, int(limits.tokens_per_minute / self.token_factor))
        return items, tokens

    def fits(self, items: int, tokens: int) -> bool:
        """Whether a call of ``items`` inputs and ``tokens`` tokens fits in one minute."""
        cap_items, cap_tokens = self.batch_caps()
        return (cap_items is None or items <= cap_items) and (
            cap_tokens is None or tokens <= cap_tokens
        )

    def share(self, parts: int) -> Quota:
        """A new `Quota` holding one of ``parts`` equal shares of these limits."""
        return Quota(
            self._limits.share(parts),
            window_sec=self.window_sec,
            reset_timezone=self.reset_timezone,
        )

    # --- admitting requests --------------------------------------------------------------

    def try_acquire(self, items: int, tokens: int) -> tuple[float, Permit | None]:
        """``(0, permit)`` if the request may go now, else ``(seconds to wait, None)``.

        Raises `DailyQuotaExceededError` when the day's quota cannot admit it, and
        `QuotaExceededError` when no minute ever could (a single input over the limit).
        """
        units = self.units(items)
        tokens = self.estimate(tokens)
        with self._lock:
            self._check_day(units)
            now = self._clock()
            self._expire(now)
            limits = self._limits
            wait = max(
                self._wait_for(now, limits.requests_per_minute, units, 1),
                self._wait_for(now, limits.tokens_per_minute, tokens, 2),
            )
            if wait > 0:
                return wait, None
            permit = Permit(now, units, tokens)
            self._in_flight.append(permit)
            self._in_flight_used[1] += permit.units
            self._in_flight_used[2] += permit.tokens
            self._day_used += units
            return 0.0, permit

    def acquire(self, items: int, tokens: int, check: Callable[[], None] | None = None) -> Permit:
        """Wait (sleeping the thread) until the request fits; return its permit. ``check``
        runs between naps (at most `MAX_NAP_SEC` apart) and may raise to give up."""
        while True:
            wait, permit = self.try_acquire(items, tokens)
            if permit is not None:
                return permit
            if check is not None:
                check()
            time.sleep(min(wait, MAX_NAP_SEC))

    async def aacquire(
        self, items: int, tokens: int, check: Callable[[], None] | None = None
    ) -> Permit:
        """Async `acquire`: waits with ``asyncio.sleep``."""
        while True:
            wait, permit = self.try_acquire(items, tokens)
            if permit is not None:
                return permit
            if check is not None:
                check()
            await asyncio.sleep(min(wait, MAX_NAP_SEC))

    def release(self, permit: Permit, *, admitted: bool = True) -> None:
        """The request's answer arrived. It stays counted for one window from now (the
        service counted it on arrival, which was no later). ``admitted=False``: the service
        refused it (a 429), so it counts against neither the minute nor the day — as one
        user observed of a refused call (AlaskanTuna/Rokabot#100: it "consumed no tokens
        against the very quota it measured"); another reports refused batches billed
        against the day, so a configured ``requests_per_day`` is best set with a margin."""
        with self._lock:
            try:
                self._in_flight.remove(permit)
            except ValueError:
                return  # released twice
            self._in_flight_used[1] -= permit.units
            self._in_flight_used[2] -= permit.tokens
            if not admitted:
                self._day_used = max(0, self._day_used - permit.units)
                return
            margin = min(WINDOW_MARGIN_SEC, self.window_sec / 100)
            until = self._clock() + self.window_sec + margin
            bisect.insort(self._window, (until, permit.units, permit.tokens))
            self._window_used[1] += permit.units
            self._window_used[2] += permit.tokens

    # --- learning from the service -------------------------------------------------------

    def learn(self, error: QuotaExceededError) -> DailyQuotaExceededError | None:
        """Read a 429's violations: adopt per-minute limits the service states, and return
        the `DailyQuotaExceededError` to raise if it names a per-day quota."""
        daily = None
        with self._lock:
            for violation in error.violations:
                if violation.period == "day":
                    daily = self._exhaust(error, violation.quota_id, violation.limit)
                    continue
                if violation.period != "minute" or violation.limit is None:
                    continue
                field = (
                    "tokens_per_minute" if violation.measure == "tokens" else "requests_per_minute"
                )
                known = getattr(self._limits, field)
                if known is None or violation.limit < known:
                    logger.info(
                        "the service's %s quota is %s per minute (%s); pacing to it",
                        violation.measure,
                        f"{violation.limit:,.0f}",
                        violation.quota_id,
                    )
                    learnt: dict[str, Any] = {field: violation.limit}
                    self._limits = replace(self._limits, **learnt, source="learnt from a 429")
                elif violation.measure == "tokens":
                    # We kept to the known limit and were still refused: the service counts
                    # more tokens than our estimate. Estimate higher from now on.
                    self.token_factor *= _TOKEN_CORRECTION
                    logger.info(
                        "token quota refused at our estimate; estimating %.0f%% higher",
                        (self.token_factor - 1) * 100,
                    )
        return daily

    @property
    def exhausted(self) -> DailyQuotaExceededError | None:
        """The daily-quota error in force, if the day's quota is known to be spent."""
        with self._lock:
            self._check_reset()
            return self._exhausted

    def resets_at(self) -> datetime:
        """The next midnight in ``reset_timezone`` (an aware datetime)."""
        zone = ZoneInfo(self.reset_timezone)
        local = self._now().astimezone(zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time())
        return midnight.replace(tzinfo=zone)

    # --- internals -----------------------------------------------------------------------

    def _today(self) -> str:
        return self._now().astimezone(ZoneInfo(self.reset_timezone)).date().isoformat()

    def _check_reset(self) -> None:
        today = self._today()
        if self._day != today:
            self._day = today
            self._day_used = 0
            self._exhausted = None

    def _check_day(self, units: int) -> None:
        self._check_reset()
        if self._exhausted is not None:
            raise self._exhausted
        per_day = self._limits.requests_per_day
        if per_day is not None and self._day_used + units > per_day:
            left = max(0, int(per_day - self._day_used))
            raise self._exhaust(
                None,
                "requests_per_day",
                per_day,
                detail=f"{left} of {per_day:,.0f} left today, this request needs {units}",
                remember=False,  # a smaller request may still fit
            )

    def _exhaust(
        self,
        error: QuotaExceededError | None,
        quota_id: str,
        limit: float | None,
        detail: str = "",
        remember: bool = True,
    ) -> DailyQuotaExceededError:
        self._check_reset()  # the day this happens in, so a new day clears it
        resets = self.resets_at()
        what = f"the daily quota {quota_id}"
        if limit is not None:
            what += f" ({limit:,.0f} requests per day)"
        local = resets.astimezone()
        message = (
            f"{what} is used up{f' ({detail})' if detail else ''}; it resets at "
            f"{local:%Y-%m-%d %H:%M %Z} ({resets:%H:%M} {resets.tzname()}): retrying before "
            "then cannot succeed"
        )
        exhausted = DailyQuotaExceededError(
            message,
            resets_at=resets,
            quota_id=quota_id,
            limit=limit,
            violations=error.violations if error is not None else (),
            status_code=429 if error is not None else None,
            status=error.status if error is not None else None,
            provider=error.provider if error is not None else None,
        )
        if remember:
            self._exhausted = exhausted
        return exhausted

    def _expire(self, now: float) -> None:
        cut = bisect.bisect_right(self._window, (now, math.inf, math.inf))
        if cut:
            for _, units, tokens in self._window[:cut]:
                self._window_used[1] -= units
                self._window_used[2] -= tokens
            del self._window[:cut]

    def _wait_for(self, now: float, limit: float | None, amount: int, field: int) -> float:
        """Seconds until ``amount`` more fits under ``limit`` in the window (0: now)."""
        if limit is None or amount == 0:
            return 0.0
        if amount > limit:
            what = "tokens" if field == 2 else "requests"
            raise RequestTooLarge(
                f"one request needs {amount:,} {what} but the quota allows {limit:,.0f} "
                f"{what} per minute: no minute can admit it. Split the input or raise the "
                "quota"
            )
        # In-flight requests count until they are answered; answered ones until they expire.
        used: float = self._in_flight_used[field] + self._window_used[field]
        if used + amount <= limit:
            return 0.0
        for until, units, tokens in self._window:
            used -= units if field == 1 else tokens
            if used + amount <= limit:
                return max(until - now, 1e-3)
        # Only in-flight requests hold the rest: poll until one is answered.
        return 0.05

    def __repr__(self) -> str:
        return f"Quota({self._limits.describe()})"


def check_quota(value: object) -> object:
    """``value`` if it is a `Quota` (or None); else `ValueError` (for field validators)."""
    if value is not None and not isinstance(value, Quota):
        raise ValueError(f"quota must be an omniembed.runtime.Quota, not {type(value).__name__}")
    return value


def minimum_seconds(
    requests: Sequence[tuple[int, int]], limits: QuotaLimits, window_sec: float = 60.0
) -> float:
    """The soonest the last of ``requests`` (``(items, tokens)`` each, in order) can be
    sent under ``limits``' per-minute quotas, from an empty window: the time the quota
    implies, whatever the client (answers assumed instant; the daily quota is left out).
    """
    clock = [0.0]
    per_minute = replace(limits, requests_per_day=None)
    quota = Quota(per_minute, window_sec=window_sec, clock=lambda: clock[0])
    last = 0.0
    for items, tokens in requests:
        while True:
            wait, permit = quota.try_acquire(items, tokens)
            if permit is not None:
                last = clock[0]
                quota.release(permit)
                break
            clock[0] += wait
    return last
